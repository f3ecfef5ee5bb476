"""Start the suite on Dask, signal it once commands run on both workers, show what the user sees."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

MARK = f"319.{os.getpid()}"


def marked() -> list[psutil.Process]:
    return [
        p for p in psutil.process_iter(["cmdline", "status"])
        if MARK in (p.info["cmdline"] or []) and p.info["status"] != psutil.STATUS_ZOMBIE
    ]


for sig, whole_group in ((signal.SIGINT, True), (signal.SIGTERM, False)):
    # -j2: two fragments in Dask at once, one per worker; the others wait in the engine.
    proc = subprocess.Popen([sys.executable, "testsuite.py", "--dask", "-j2", "--no-color", "--kill-grace", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, SLEEP_MARK=MARK), start_new_session=True)
    deadline = time.time() + 60
    while len(marked()) < 4 and time.time() < deadline:  # 2 testcases, 2 sleeps each
        time.sleep(0.05)
    workers = [p for p in psutil.Process(proc.pid).children() if "spawn_main" in " ".join(p.cmdline())]
    if whole_group:
        os.killpg(proc.pid, sig)  # what Ctrl-C in a terminal does
    else:
        proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    print(f"$ testsuite.py --dask -j2  # then {sig.name} to {'the process group' if whole_group else 'the engine'}")
    print("".join(sorted(out.splitlines(keepends=True))), end="")
    print(f"[exit {proc.returncode}]")
    deadline = time.time() + 10
    while (marked() or any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)) \
            and time.time() < deadline:
        time.sleep(0.1)
    alive = [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
    print(f"workers: {len(workers)}, survivors: {len(marked()) + len(alive)}")
    index = json.loads(Path("out/new/index.json").read_text())
    print("index:", sorted(f"{e['test']} {e['status']} {e['message']}" for e in index["results"]))
