"""Start the suite, signal it once its commands run, show what the user sees."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

# A duration no other run on the machine uses: the processes counted are ours.
MARK = f"319.{os.getpid()}"


def running() -> list[psutil.Process]:
    return [
        p for p in psutil.process_iter(["cmdline", "status"])
        if MARK in (p.info["cmdline"] or []) and p.info["status"] != psutil.STATUS_ZOMBIE
    ]


for sig in (signal.SIGINT, signal.SIGTERM):
    proc = subprocess.Popen([sys.executable, "testsuite.py", "-j2", "--no-color", "--kill-grace", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, SLEEP_MARK=MARK))
    deadline = time.time() + 60
    while len(running()) < 4 and time.time() < deadline:  # 2 testcases, each with a setsid grandchild
        time.sleep(0.05)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    print(f"$ testsuite.py -j2  # then {sig.name}")
    print(out, end="")
    print(f"[exit {proc.returncode}]")
    deadline = time.time() + 5
    while running() and time.time() < deadline:
        time.sleep(0.05)
    print("survivors:", len(running()))
    index = json.loads(Path("out/new/index.json").read_text())
    print("index:", sorted(f"{e['test']} {e['status']} {e['message']}" for e in index["results"]))
