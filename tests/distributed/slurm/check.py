"""Run on Slurm; each worker is a batch job named after the executor; none is left afterwards."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil


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

# Ctrl-C in a terminal (SIGINT to the engine's process group) while a
# command runs in a batch job: the run ends as interrupted (exit 130), its
# command and its batch jobs end. Importing dask_jobqueue once replaced the
# engine's SIGINT handler with sys.exit(): exit 0, no verdict at all.
MARK = f"318.{os.getpid()}"


def sleeping() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [])[:2] == ["sleep", MARK]]


# Written here, not in the suite: the first run above must not wait for it.
slow = Path("tests/slow")
slow.mkdir()
(slow / "test.yaml").write_text(f'fragments: [{{name: run, shell: "sleep {MARK}", status: PASS}}]\n')
engine = subprocess.Popen([sys.executable, "testsuite.py", "--executor", "batch", "--no-color", "--no-compare", "slow"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
deadline = time.monotonic() + 120
while not sleeping() and time.monotonic() < deadline:
    time.sleep(0.1)
print("$ testsuite.py --executor batch slow  # then Ctrl-C (SIGINT to its process group)")
print("the command runs in a batch job:", bool(sleeping()))
os.killpg(engine.pid, signal.SIGINT)
out, _ = engine.communicate(timeout=120)
print(out, end="")
print(f"[exit {engine.returncode}]")
deadline = time.monotonic() + 60
while (sleeping() or jobs()) and time.monotonic() < deadline:
    time.sleep(0.2)
print("left:", len(sleeping()), "commands,", len(jobs()), "batch jobs")
for proc in sleeping():
    proc.kill()
shutil.rmtree(slow)

# A batch job lost while its fragment runs (scancel, as a preempted or
# failed node): the fragment runs again in the other job and passes; the
# user sees the verdict, not the scheduler's log lines ("Task ... marked as
# failed because 1 workers died", which the engine's own scheduler printed).
LOST = f"317.{os.getpid()}"
flag = Path("lost-ran").resolve()
lost = Path("tests/lost")
lost.mkdir()
(lost / "test.yaml").write_text(
    f'fragments: [{{name: run, shell: "test -e {flag} && exit 0; touch {flag}; sleep {LOST}", status: PASS}}]\n'
)
engine = subprocess.Popen([sys.executable, "testsuite.py", "--executor", "batch", "--no-color", "--no-compare", "lost"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
deadline = time.monotonic() + 120
victims: list[psutil.Process] = []
while not victims and time.monotonic() < deadline:
    victims = [p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [])[:2] == ["sleep", LOST]]
    time.sleep(0.1)
job = victims[0].environ().get("SLURM_JOB_ID") if victims else None
print("$ testsuite.py --executor batch lost  # then scancel of the job running its command")
print("the command runs in a batch job:", job is not None)
if job is not None:
    subprocess.run(["scancel", job], check=False)
out, _ = engine.communicate(timeout=180)
print(out, end="")
print(f"[exit {engine.returncode}]")
deadline = time.monotonic() + 60
while jobs() and time.monotonic() < deadline:
    time.sleep(0.2)
print("batch jobs left:", len(jobs()))
for proc in victims:
    with contextlib.suppress(psutil.Error):
        proc.kill()
shutil.rmtree(lost)
