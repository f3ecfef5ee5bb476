"""Start the sample suite, SIGKILL it once the fast testcases are journaled."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from e3suite import store

shutil.rmtree("out", ignore_errors=True)
proc = subprocess.Popen([sys.executable, "testsuite.py", "-j2"], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL, start_new_session=True)
journal = Path("out", "new", "journal.jsonl")
deadline = time.time() + 60
while time.time() < deadline:
    done = journal.exists() and journal.read_text().count('"test_result"') >= 3
    if done:
        break
    time.sleep(0.05)
os.killpg(proc.pid, signal.SIGKILL)
proc.wait()
print("killed:", proc.returncode == -signal.SIGKILL)
print("index written:", Path("out", "new", "index.json").exists())
lines = journal.read_text().splitlines()
print("journal lines all JSON:", all(isinstance(json.loads(line), dict) for line in lines))
run = store.load_run(Path("out", "new"))
print("rebuilt from journal:", not run.complete)
# Listed as the run finished them (the journal's order, which scheduling decides), then the unfinished.
finished = [json.loads(line)["test"] for line in lines if '"test_result"' in line]
print("in the order they finished:", [e["test"] for e in run.entries][: len(finished)] == finished)
for entry in sorted(run.entries, key=lambda e: (e["status"] == "ERROR", e["test"])):
    print(" ", entry["test"], entry["status"], entry["message"])
