"""Run on Slurm; each worker is a batch job named after the executor; none is left afterwards."""

import subprocess
import sys


def jobs() -> list[str]:
    out = subprocess.run(["squeue", "-h", "-n", "e3suite-batch", "-o", "%T"], capture_output=True, text=True)
    return out.stdout.split()


run = subprocess.run([sys.executable, "testsuite.py", "--executor", "batch", "-v", "--no-color"],
                     capture_output=True, text=True, timeout=300)
print("$ testsuite.py --executor batch -v")
print("".join(sorted((run.stdout + run.stderr).splitlines(keepends=True))), end="")
print(f"[exit {run.returncode}]")
print("batch jobs left:", len(jobs()))

run = subprocess.run([sys.executable, "testsuite.py", "--executor", "refused", "--no-color"],
                     capture_output=True, text=True, timeout=300)
print("$ testsuite.py --executor refused")
print(run.stdout + run.stderr, end="")
print(f"[exit {run.returncode}]")
print("batch jobs left:", len(jobs()))
