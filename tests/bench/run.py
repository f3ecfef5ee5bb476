#!/usr/bin/env python3
"""Benchmark of the local executor against a floor: the same commands through ``xargs -P J``.

    .venv/bin/python tests/bench/run.py                 # every workload, 3 rounds
    .venv/bin/python tests/bench/run.py W1 W2 --rounds 5
    .venv/bin/python tests/bench/run.py W5 --profile    # cProfile of one e3suite run

Workloads (issue 3):

- W1: 1000 testcases each running ``true``, at -j1 and -j2;
- W2: 200 testcases each running ``sleep 0.1`` at -j8 (ideal: 2.5 s);
- W4: 200 testcases of 5 chained fragments, each running ``true``, at -j2;
- W5: 10,000 testcases each running ``true``, at -j2.

Commands run in their test's directory, as xargs runs them in the suite's:
no working directory is made. With ``--in-working-dir`` each runs in its
testcase's private working directory (``ctx.shell``'s default), made for it.
With ``--tmpfs`` everything e3suite writes (results, working directories)
goes to /dev/shm: the difference with a plain run is the disk's share.

Each round runs the floor and e3suite one after the other (interleaved, so
that a change of machine load hits both); the table gives medians of wall
time, CPU time (user+sys of the whole process tree) and peak RSS (the
largest single process of the tree), and the ratio to the floor. It prints
figures; it asserts nothing (the machine may be loaded).
"""

from __future__ import annotations

import argparse
import compileall
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SUITE = '''\
import os
import sys

from e3suite import FragmentContext, TestDriver, Testsuite, TestStatus


class CommandDriver(TestDriver):
    """Runs test.yaml's ``cmd`` in each of ``chain`` chained fragments."""

    def add_fragments(self) -> None:
        after: tuple[str, ...] = ()
        for i in range(self.test_env.get("chain", 1)):
            self.add_fragment(f"f{i}", self.step, after=after)
            after = (f"f{i}",)

    def step(self, ctx: FragmentContext) -> None:
        # Like xargs, run where the test is, unless told to use the
        # testcase's working directory (which then gets made).
        in_working_dir = os.environ.get("BENCH_IN_WORKING_DIR") == "1"
        result = ctx.shell(self.test_env["cmd"], cwd=None if in_working_dir else ctx.test_dir)
        if ctx.fragment_id.endswith(f":f{self.test_env.get('chain', 1) - 1}"):
            ctx.result.set_status(TestStatus.PASS if result.ok else TestStatus.FAIL)


class BenchSuite(Testsuite):
    test_driver_map = {"command": CommandDriver}
    default_driver = "command"


if __name__ == "__main__":
    sys.exit(BenchSuite().main())
'''


@dataclass
class Workload:
    name: str
    tests: int
    argv: list[str]
    jobs: int
    chain: int = 1
    ideal: float | None = None  # seconds, when the floor is not the reference

    @property
    def label(self) -> str:
        return f"{self.name} -j{self.jobs}"


WORKLOADS = {
    "W1": [Workload("W1", 1000, ["true"], 1), Workload("W1", 1000, ["true"], 2)],
    "W2": [Workload("W2", 200, ["sleep", "0.1"], 8, ideal=2.5)],
    "W4": [Workload("W4", 200, ["true"], 2, chain=5)],
    "W5": [Workload("W5", 10_000, ["true"], 2)],
}


@dataclass
class Sample:
    wall: float
    cpu: float
    rss: int  # bytes


def make_suite(root: Path, workload: Workload) -> Path:
    suite = root / f"{workload.name}-{workload.tests}"
    if suite.is_dir():
        return suite
    tests = suite / "tests"
    tests.mkdir(parents=True)
    (suite / "testsuite.py").write_text(SUITE)
    argv = ", ".join(f'"{a}"' for a in workload.argv)
    text = f"cmd: [{argv}]\nchain: {workload.chain}\n"
    for i in range(workload.tests):
        case = tests / f"t{i:05d}"
        case.mkdir()
        (case / "test.yaml").write_text(text)
    return suite


def measure(argv: list[str], cwd: Path, stdin: bytes | None = None) -> Sample:
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    if stdin is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stderr is not None
    errors = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode not in (0,):
        raise SystemExit(f"{' '.join(argv)} exited with {proc.returncode}:\n{errors}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024)


def floor_run(workload: Workload, cwd: Path) -> Sample:
    # xargs appends one argument per command: give it the command's last word.
    *head, last = workload.argv
    count = workload.tests * workload.chain
    stdin = (last + "\n").encode() * count
    return measure(["xargs", "-P", str(workload.jobs), "-n", "1", *head], cwd, stdin)


def e3suite_run(workload: Workload, suite: Path, out: Path, temp_dir: Path | None) -> Sample:
    argv = [sys.executable, "testsuite.py", f"-j{workload.jobs}", "-q", "--no-color", "-o", str(out)]
    if temp_dir is not None:
        argv += ["--temp-dir", str(temp_dir)]
    return measure(argv, suite)


def median(samples: list[Sample]) -> Sample:
    return Sample(
        statistics.median(s.wall for s in samples),
        statistics.median(s.cpu for s in samples),
        int(statistics.median(s.rss for s in samples)),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", metavar="WORKLOAD", help=f"among {', '.join(WORKLOADS)} (default: all)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="profile one e3suite run of each workload instead")
    parser.add_argument("--keep", metavar="DIR", help="generate suites in DIR and keep them")
    parser.add_argument(
        "--in-working-dir", action="store_true",
        help="run each command in its testcase's working directory (made per testcase) instead of the test's",
    )
    parser.add_argument(
        "--tmpfs", action="store_true",
        help="suites, results and working directories in /dev/shm: the engine's cost without the disk's",
    )
    args = parser.parse_args()
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}: choose among {', '.join(WORKLOADS)}")
    args.workloads = args.workloads or list(WORKLOADS)

    base = "/dev/shm" if args.tmpfs else None
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="e3suite-bench-", dir=base))
    root.mkdir(parents=True, exist_ok=True)
    temp_dir = root / "tmp" if args.tmpfs else None
    if temp_dir is not None:
        temp_dir.mkdir(exist_ok=True)
    if args.in_working_dir:
        os.environ["BENCH_IN_WORKING_DIR"] = "1"
    # Users' machines keep compiled modules; this one may be told not to
    # write them (PYTHONDONTWRITEBYTECODE): compile once, outside the timing.
    compileall.compile_dir(str(REPO / "e3suite"), quiet=1)
    env_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(REPO) + (os.pathsep + env_path if env_path else "")
    try:
        if args.profile:
            for name in args.workloads:
                for workload in WORKLOADS[name]:
                    profile(workload, make_suite(root, workload), root)
            return 0
        print(f"{'workload':10} {'floor s':>8} {'e3suite s':>10} {'ratio':>6} {'ideal':>6} "
              f"{'CPU floor':>9} {'CPU e3s':>8} {'RSS MiB':>8} {'ms/test':>8}")
        per_test: dict[str, float] = {}
        for name in args.workloads:
            for workload in WORKLOADS[name]:
                suite = make_suite(root, workload)
                floors, runs = [], []
                for _ in range(args.rounds):
                    floors.append(floor_run(workload, suite))
                    runs.append(e3suite_run(workload, suite, root / "out", temp_dir))
                floor, run = median(floors), median(runs)
                ms = run.wall / workload.tests * 1000
                per_test[workload.label] = ms
                ideal = f"{run.wall / workload.ideal:.2f}" if workload.ideal else "-"
                print(f"{workload.label:10} {floor.wall:8.3f} {run.wall:10.3f} {run.wall / floor.wall:6.2f} "
                      f"{ideal:>6} {floor.cpu:9.2f} {run.cpu:8.2f} {run.rss / 2**20:8.1f} {ms:8.3f}", flush=True)
        if "W1 -j2" in per_test and "W5 -j2" in per_test:
            print(f"W5/W1 time per testcase at -j2: {per_test['W5 -j2'] / per_test['W1 -j2']:.2f}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def profile(workload: Workload, suite: Path, root: Path) -> None:
    """cProfile the engine process (workers are not profiled: their cost shows as wait time)."""
    stats_file = root / f"{workload.name}.prof"
    argv = [sys.executable, "-m", "cProfile", "-o", str(stats_file), "testsuite.py",
            f"-j{workload.jobs}", "-q", "--no-color", "-o", str(root / "out")]
    measure(argv, suite)
    print(f"== {workload.label}: engine process, by own time")
    pstats.Stats(str(stats_file)).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    sys.exit(main())
