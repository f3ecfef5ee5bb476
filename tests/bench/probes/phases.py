"""Where a stock-driver run's wall time goes: start-up, the commands, the end; what that leaves the targets.

For each workload of tests/bench/run.py (the stock ``shell`` driver, a
fresh ``-o``), interleaved with the floor (``xargs -P J``), this probe runs
e3suite and reads the run's own journal:

- ``start-up``: from starting ``python testsuite.py`` to the first
  fragment's start (interpreter, imports, discovery, planning, the first
  worker);
- ``commands``: from the first fragment's start to the last one's end;
- ``end``: from there to the process's exit (reaping, index, summary);
- ``slot skew``: how much later than the first slot the last one started
  its first fragment (workers are started one after the other);
- ``engine CPU``: the engine process's own CPU time (``getrusage`` at its
  exit, workers and commands excluded), before its loop and in it.

It then prints the *fixed-cost bound*: the ratio to the floor (or to the
ideal) that the run would have if the commands took exactly as long as
the floor's, that is ``(start-up + floor + end) / floor``. A target below
that bound cannot be reached by making fragments cheaper: only a shorter
start-up or end, or starting commands before planning is done, can.
It asserts nothing.

    .venv/bin/python tests/bench/probes/phases.py W1 W2 W5 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import run as bench  # tests/bench/run.py: the workloads and their suites

#: Runs testsuite.py, then prints the engine's own CPU before its loop and in it (one line on stderr).
RUNNER = """\
import resource, runpy, sys, time
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
import e3suite.engine as engine
marks = []
run = engine.Engine.run
def timed(self, *args, **kwargs):
    marks.append(cpu())
    try:
        return run(self, *args, **kwargs)
    finally:
        marks.append(cpu())
engine.Engine.run = timed
sys.argv = ["testsuite.py", *sys.argv[1:]]
try:
    runpy.run_path("testsuite.py", run_name="__main__")
finally:
    if len(marks) == 2:
        sys.stderr.write(f"@engine-cpu {marks[0]:.6f} {marks[1] - marks[0]:.6f} {cpu() - marks[1]:.6f}\\n")
"""


def one_run(suite: Path, workload: bench.Workload, out: Path) -> dict[str, float]:
    argv = [sys.executable, "-c", RUNNER, f"-j{workload.jobs}", "-q", "--no-color", "-o", str(out)]
    with tempfile.TemporaryFile() as errors:
        begin = time.time()
        subprocess.run(argv, cwd=suite, stdout=subprocess.DEVNULL, stderr=errors, check=True)
        end = time.time()
        errors.seek(0)
        cpu = [line.split()[1:] for line in errors.read().decode().splitlines() if line.startswith("@engine-cpu")]
    starts: dict[int, float] = {}
    first_start, last_end = float("inf"), 0.0
    with open(out / "new" / "journal.jsonl") as journal:
        for line in journal:
            event = json.loads(line)
            if event.get("event") != "fragment_ended":
                continue
            first_start = min(first_start, event["start"])
            last_end = max(last_end, event["end"])
            slot = event["slot"]
            starts[slot] = min(starts.get(slot, float("inf")), event["start"])
    before, loop, after = (float(x) for x in cpu[0]) if cpu else (0.0, 0.0, 0.0)
    return {
        "wall": end - begin,
        "start-up": first_start - begin,
        "commands": last_end - first_start,
        "end": end - last_end,
        "slot skew": max(starts.values()) - min(starts.values()),
        "engine CPU, start-up": before,
        "engine CPU, loop": loop,
        "engine CPU, end": after,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("workloads", nargs="*", default=["W1", "W2"], choices=sorted(bench.WORKLOADS))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="e3suite-phases-") as tmp:
        root = Path(tmp)
        b = bench.Bench(root, None)
        for name in args.workloads:
            workload = bench.WORKLOADS[name]
            suite = bench.make_suite(root, workload, "stock")
            floor = b.runner("floor", workload)
            assert floor is not None
            floors, runs = [], []
            for i in range(args.rounds):
                floors.append(floor().wall)
                runs.append(one_run(suite, workload, root / f"out-{name}-{i}"))
                b.remove_fresh_outputs()
            floor_wall = statistics.median(floors)
            reference = workload.ideal or floor_wall
            print(f"== {workload.label}, {workload.tests} testcases, {args.rounds} rounds (medians)")
            ideal = f"; ideal {reference * 1000:.0f} ms" if workload.ideal else ""
            print(f"floor (xargs): {floor_wall * 1000:.0f} ms{ideal}")
            for key in runs[0]:
                value = statistics.median(r[key] for r in runs)
                print(f"{key}: {value * 1000:.0f} ms")
            fixed = statistics.median(r["start-up"] + r["end"] for r in runs)
            wall = statistics.median(r["wall"] for r in runs)
            what = "ideal" if workload.ideal else "floor"
            print(f"e3suite: {wall / reference:.2f}x the {what}")
            bound = (fixed + floor_wall) / reference
            print(f"fixed-cost bound (start-up + end + the floor's own time): {bound:.2f}x the {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
