#!/usr/bin/env python3
"""CPU spent pickling tasks and outcomes, in the engine and in each worker.

    cd SUITE && PYTHONPATH=REPO python REPO/tests/bench/probes/pickle_cost.py -j2 -q -o /tmp/out

Runs ``testsuite.py`` of the current directory with the local executor's
``pickle`` (engine and worker side) replaced by one that times each
``dumps``/``loads`` with ``time.thread_time()``; prints one line per process
as it leaves. A measuring aid for docs/performance.md, not a test.
"""

from __future__ import annotations

import atexit
import os
import pickle
import runpy
import sys
import time
import types
from typing import Any

stats = {"dumps": 0, "dumps_cpu": 0.0, "dumps_bytes": 0, "loads": 0, "loads_cpu": 0.0}


def dumps(obj: Any, *args: Any, **kwargs: Any) -> bytes:
    start = time.thread_time()
    data = pickle.dumps(obj, *args, **kwargs)
    stats["dumps_cpu"] += time.thread_time() - start
    stats["dumps"] += 1
    stats["dumps_bytes"] += len(data)
    return data


def loads(data: Any, *args: Any, **kwargs: Any) -> Any:
    start = time.thread_time()
    obj = pickle.loads(data, *args, **kwargs)
    stats["loads_cpu"] += time.thread_time() - start
    stats["loads"] += 1
    return obj


def show(role: str) -> None:
    n = max(1, stats["dumps"])
    print(
        f"{role} {os.getpid()}: {stats['dumps']} dumps, {stats['dumps_bytes'] / n:.0f} bytes each, "
        f"{stats['dumps_cpu'] / n * 1000:.3f} ms each; {stats['loads']} loads, "
        f"{stats['loads_cpu'] / max(1, stats['loads']) * 1000:.3f} ms each",
        file=sys.stderr,
    )


import e3suite.executors.local as local  # noqa: E402
import e3suite.executors.local_worker as local_worker  # noqa: E402

timed = types.SimpleNamespace(dumps=dumps, loads=loads, HIGHEST_PROTOCOL=pickle.HIGHEST_PROTOCOL)
local.pickle = timed  # type: ignore[attr-defined,assignment]
local_worker.pickle = timed  # type: ignore[attr-defined,assignment]
original = local.worker_main  # type: ignore[attr-defined]


def worker_main(*args: Any, **kwargs: Any) -> None:
    for key in stats:
        stats[key] = 0
    try:
        original(*args, **kwargs)
    finally:
        show("worker")


local.worker_main = worker_main  # type: ignore[attr-defined]
atexit.register(show, "engine")
sys.argv = ["testsuite.py", *sys.argv[1:]]
runpy.run_path("testsuite.py", run_name="__main__")
