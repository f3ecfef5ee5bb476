#!/usr/bin/env python3
"""One e3-testsuite testsuite, run by e3-testsuite 27.x and by `e3suite e3`.

Usage: python tests/bench/e3compat.py [--tests N] [-j J] [--rounds R]
       python tests/bench/e3compat.py --scheduler [--units N] [-j J] [--rounds R]

The testsuite (generated in a temporary directory) is an ordinary
e3-testsuite one: N testcases of a ``ClassicTestDriver`` whose ``run`` is
``self.shell(["true"])``. Each round runs, one after the other so that a
change of machine load hits all three: the floor (``xargs -P J`` starting
the same N commands), ``python testsuite.py -jJ`` (e3-testsuite, installed
by the test extra) and ``python -m e3suite e3 testsuite.py -jJ`` (the same
script, unmodified, on e3suite's engine). It prints medians of wall time
and CPU time (user + system of the whole process tree) and the ratio to
the floor. It asserts nothing: a loaded machine gives other figures.

With ``--scheduler`` it times e3-testsuite's generic ``MultiprocessScheduler``
API instead, e3-testsuite's own against e3suite's compatibility one
(``e3suite.compat.e3testsuite.multiprocess_scheduler``): N units of work,
each a ``sh -c "sleep 0.02"`` started by a ``Worker`` with e3-core's
``Run(bg=True)``, in chains of 10.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUITE = '''
import sys

from e3.testsuite import Testsuite
from e3.testsuite.driver.classic import ClassicTestDriver


class TrueDriver(ClassicTestDriver):
    def run(self):
        self.shell(["true"])


class BenchTestsuite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"trivial": TrueDriver}
    default_driver = "trivial"


if __name__ == "__main__":
    sys.exit(BenchTestsuite().testsuite_main())
'''


def make_suite(root: Path, tests: int) -> Path:
    for i in range(tests):
        test_dir = root / "tests" / f"t{i:05d}"
        test_dir.mkdir(parents=True)
        (test_dir / "test.yaml").write_text("driver: trivial\n")
    script = root / "testsuite.py"
    script.write_text(SUITE)
    return script


def timed(cmd: list[str], cwd: Path, stdin: bytes | None = None) -> tuple[float, float, int]:
    """(wall s, CPU s of the process tree, exit status)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode


SCHEDULER = """
import sys, time
from e3.collection.dag import DAG
from e3.os.process import Run
if sys.argv[1] == "e3suite":
    from e3suite.compat.e3testsuite.multiprocess_scheduler import MultiprocessScheduler, Worker
else:
    from e3.testsuite.multiprocess_scheduler import MultiprocessScheduler, Worker
    from e3.testsuite.running_status import RunningStatus

class Sleep(Worker):
    def start(self):
        return Run(["sh", "-c", "sleep 0.02"], output="/dev/null", bg=True)

units, jobs = int(sys.argv[2]), int(sys.argv[3])
dag = DAG()
for i in range(units):
    dag.add_vertex(f"v{i}", data=i, predecessors=[f"v{i - 1}"] if i % 10 else [])
done = []
status = None
if sys.argv[1] != "e3suite":
    status = RunningStatus(sys.argv[4])
    status.set_dag(dag)
start = time.monotonic()
MultiprocessScheduler(dag, lambda uid, data, slot: Sleep(uid, None, "", slot, None), done.append, status,
                      jobs=jobs).run()
assert len(done) == units
print(time.monotonic() - start)
"""


def bench_scheduler(units: int, jobs: int, rounds: int) -> None:
    samples: dict[str, list[float]] = {"e3-testsuite 27.x": [], "e3suite compat": []}
    with tempfile.TemporaryDirectory(prefix="e3compat-sched-") as tmp:
        script = Path(tmp) / "sched.py"
        script.write_text(SCHEDULER)
        for _ in range(rounds):
            for name, which in (("e3-testsuite 27.x", "e3"), ("e3suite compat", "e3suite")):
                out = subprocess.run(
                    [sys.executable, str(script), which, str(units), str(jobs), str(Path(tmp) / "status")],
                    check=True, capture_output=True, text=True,
                ).stdout
                samples[name].append(float(out.split()[-1]))
    ideal = units * 0.02 / jobs
    print(f"MultiprocessScheduler: {units} units of `sleep 0.02` in chains of 10, -j{jobs}, "
          f"median of {rounds} rounds (ideal {ideal:.2f} s)")
    print("| scheduler | wall s | x ideal |")
    print("| --- | --- | --- |")
    for name, walls in samples.items():
        wall = statistics.median(walls)
        print(f"| {name} | {wall:.3f} | {wall / ideal:.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scheduler", action="store_true", help="time the MultiprocessScheduler API instead")
    parser.add_argument("--units", type=int, default=200, help="units of work for --scheduler")
    args = parser.parse_args()
    if args.scheduler:
        bench_scheduler(args.units, args.jobs, args.rounds)
        return 0
    with tempfile.TemporaryDirectory(prefix="e3compat-bench-") as tmp:
        root = Path(tmp)
        script = make_suite(root / "suite", args.tests)
        lines = "".join(f"t{i}\n" for i in range(args.tests)).encode()
        runs = {
            "floor (xargs)": lambda: timed(["xargs", "-P", str(args.jobs), "-n", "1", "true"], root, lines),
            "e3-testsuite 27.x": lambda: timed(
                [sys.executable, str(script), f"-j{args.jobs}", "-o", str(root / "out-e3"), "-t", tmp], root
            ),
            "e3suite e3": lambda: timed(
                [sys.executable, "-m", "e3suite", "e3", str(script), f"-j{args.jobs}", "-o", str(root / "out-e3suite"),
                 "-t", tmp], root
            ),
        }
        figures: dict[str, list[tuple[float, float, int]]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, run in runs.items():
                figures[name].append(run())
                shutil.rmtree(root / "out-e3", ignore_errors=True) if name == "e3-testsuite 27.x" else None
        floor = statistics.median(w for w, _, _ in figures["floor (xargs)"])
        print(f"{args.tests} ClassicTestDriver testcases running `true`, -j{args.jobs}, "
              f"median of {args.rounds} rounds, {os.cpu_count()} CPUs")
        print("| run | wall s | CPU s | x floor | ms/testcase | exit |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name, samples in figures.items():
            wall = statistics.median(w for w, _, _ in samples)
            cpu = statistics.median(c for _, c, _ in samples)
            status = sorted({s for _, _, s in samples})
            print(f"| {name} | {wall:.3f} | {cpu:.2f} | {wall / floor:.1f} | {1000 * wall / args.tests:.2f} | "
                  f"{','.join(map(str, status))} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
