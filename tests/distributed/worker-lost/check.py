"""Kill the Dask worker running the victim's command, by pid; show what the user sees."""

import os
import signal
import subprocess
import sys
import time

import psutil

# A duration no other run on the machine uses: the processes found are ours.
MARK = f"2.{os.getpid()}"


def marked() -> list[psutil.Process]:
    return [
        p for p in psutil.process_iter(["cmdline", "status"])
        if MARK in " ".join(p.info["cmdline"] or []) and p.info["status"] != psutil.STATUS_ZOMBIE
        and p.info["cmdline"][0] == "sleep"
    ]


for extra in ([], ["--max-worker-failures", "1"]):
    proc = subprocess.Popen([sys.executable, "testsuite.py", "--dask", "--no-color", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, SLEEP_MARK=MARK))
    deadline = time.time() + 60
    while not marked() and time.time() < deadline:
        time.sleep(0.05)
    sleeper = marked()[0]
    worker = sleeper.parent().parent()  # sleep <- /bin/sh -c <- the Dask worker process
    workers = [p for p in psutil.Process(proc.pid).children() if "spawn_main" in " ".join(p.cmdline())]
    print("killed a worker of the run:", worker.pid in {w.pid for w in workers})
    os.kill(worker.pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=120)
    print(f"$ testsuite.py --dask {' '.join(extra)}  # a worker killed mid-run".rstrip())
    print("".join(sorted(out.splitlines(keepends=True))), end="")
    print(f"[exit {proc.returncode}]")
    deadline = time.time() + 10
    while (marked() or any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)) \
            and time.time() < deadline:
        time.sleep(0.1)
    alive = [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
    print("survivors:", len(marked()) + len(alive))
