#!/usr/bin/env python3
"""Where a run's CPU goes, by process: the engine, its workers, the commands.

    cd SUITE && PYTHONPATH=REPO python REPO/tests/bench/probes/cpu_split.py 3 -j2 -q -o /tmp/out

Runs ``testsuite.py`` of the current directory N times (each with a fresh
``-o`` suffix), wrapping the local executor's ``worker_main`` so that each
worker writes its own ``getrusage`` (and its commands', its reaped
children) as it leaves, and prints medians. A measuring aid for
docs/performance.md, not a test.
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any


def _usage(who: int) -> tuple[float, float]:
    r = resource.getrusage(who)
    return r.ru_utime, r.ru_stime


def _child(report: str, argv: list[str]) -> None:
    """Inside the measured run: wrap worker_main, report at exit, run testsuite.py."""
    start = time.perf_counter()
    import e3suite.executors.local as local

    original = local.worker_main  # type: ignore[attr-defined]

    def worker_main(*args: Any, **kwargs: Any) -> None:
        try:
            original(*args, **kwargs)
        finally:
            with open(report, "a") as f:
                line = {"role": "worker", "self": _usage(resource.RUSAGE_SELF)}
                f.write(json.dumps({**line, "children": _usage(resource.RUSAGE_CHILDREN)}) + "\n")

    local.worker_main = worker_main  # type: ignore[attr-defined]

    def engine_report() -> None:
        with open(report, "a") as f:
            line = {"role": "engine", "self": _usage(resource.RUSAGE_SELF), "wall": time.perf_counter() - start}
            f.write(json.dumps({**line, "children": _usage(resource.RUSAGE_CHILDREN)}) + "\n")

    atexit.register(engine_report)
    sys.argv = ["testsuite.py", *argv]
    runpy.run_path("testsuite.py", run_name="__main__")


def main() -> int:
    if os.environ.get("CPU_SPLIT_REPORT"):
        _child(os.environ["CPU_SPLIT_REPORT"], sys.argv[1:])
        return 0
    runs, args = int(sys.argv[1]), sys.argv[2:]
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            report = os.path.join(tmp, f"run{i}.jsonl")
            argv = [a + str(i) if j and args[j - 1] == "-o" else a for j, a in enumerate(args)]
            env = dict(os.environ, CPU_SPLIT_REPORT=report)
            subprocess.run([sys.executable, __file__, *argv], env=env, stdout=subprocess.DEVNULL, check=False)
            with open(report) as handle:
                lines = [json.loads(line) for line in handle]
            engine = next(line for line in lines if line["role"] == "engine")
            workers = [line for line in lines if line["role"] == "worker"]
            row = {
                "engine user": engine["self"][0],
                "engine sys": engine["self"][1],
                "workers user": sum(w["self"][0] for w in workers),
                "workers sys": sum(w["self"][1] for w in workers),
                "commands": sum(sum(w["children"]) for w in workers),
                "total": sum(engine["self"]) + sum(engine["children"]),
                "wall": engine["wall"],
            }
            for key, value in row.items():
                figures.setdefault(key, []).append(value)
    for key, values in figures.items():
        print(f"{key:14} median {statistics.median(values):.3f} s  ({' '.join(f'{v:.3f}' for v in values)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
