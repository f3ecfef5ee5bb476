"""An external scheduler with one worker: what cannot be placed ends after --max-pending-time."""

import json
import subprocess
import sys
import time
from pathlib import Path

common = ["--no-dashboard", "--scheduler-file", "scheduler.json"]
scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                              "--port", "0", *common], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
worker = None
try:
    deadline = time.time() + 60
    while not Path("scheduler.json").exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.2)  # written, then complete
    address = json.loads(Path("scheduler.json").read_text())["address"]
    # Started in the testsuite's directory: it imports the suite's code as the engine does.
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--nthreads", "1",
                               "--host", "127.0.0.1", *common], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = subprocess.run([sys.executable, "testsuite.py", "--dask-scheduler", address, "--max-pending-time", "1",
                          "--no-color", "-o", "out-external"], capture_output=True, text=True, timeout=120)
    print("$ testsuite.py --dask-scheduler ADDRESS --max-pending-time 1")
    print("".join(sorted((run.stdout + run.stderr).splitlines(keepends=True))), end="")
    print(f"[exit {run.returncode}]")
    print("scheduler left running:", scheduler.poll() is None, "- its worker too:", worker.poll() is None)
finally:
    for proc in (worker, scheduler):
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
