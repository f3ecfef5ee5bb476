#!/usr/bin/env python3
"""Benchmark of e3suite as users and CI run it, against a floor and against LLVM lit.

    .venv/bin/python tests/bench/run.py                  # every workload, 3 interleaved rounds
    .venv/bin/python tests/bench/run.py W1 W2 --rounds 5
    .venv/bin/python tests/bench/run.py W1 --rows floor,e3suite,lit
    .venv/bin/python tests/bench/run.py W5 --profile     # cProfile of one stock-driver run
    .venv/bin/python tests/bench/run.py W1 --other-tree /tmp/before   # A/B against another tree (repeatable)

Workloads (issues 3 and 8):

- W1: 1000 testcases each running ``true``, at -j2;
- W1j1: the same at -j1 (not run by default);
- W2: 200 testcases each running ``sleep 0.1``, at -j8 (ideal: 2.5 s);
- W4: 200 testcases of 5 chained fragments, each running ``true``, at -j2;
- W5: 10,000 testcases each running ``true``, at -j2.

Rows (``--rows`` picks some, in this order):

- ``floor``: the same commands through ``xargs -P J``, which only starts them;
- ``e3suite``: what users run: the stock ``shell`` driver (``driver: shell``,
  ``cmd: [true]``; for W4, which needs 5 fragments, a 10-line driver whose
  fragments call ``ctx.shell(cmd)`` with its defaults, i.e. in the
  testcase's working directory), ``python testsuite.py -jJ -q -o DIR`` with
  a fresh, empty ``DIR`` for every run, as CI runs it;
- ``next-run``: the same, with the same ``-o`` as the run before (two untimed
  runs first, so the previous run and the one before it are there: what a
  developer's third and later runs see);
- ``bench-driver``: the benchmark's own ``CommandDriver``, which runs the
  command in the test directory (no working directory, no copy), fresh ``-o``;
- ``lit``: LLVM lit (``pip install lit``), its own ShTest format, each test a
  file with ``RUN: true`` (5 RUN lines for W4), ``lit -jJ -q``; skipped with a
  note when lit is not installed;
- ``other-tree`` (with ``--other-tree DIR``, which may be repeated): as
  ``e3suite``, with the e3suite package of ``DIR`` (say, a copy of the tree
  before a change): A/B in the same rounds, one row per ``DIR``.

In each round the rows run one after the other, in an order that rotates
from round to round (so that a change of machine load, or what a run leaves
behind for the next, hits every row alike); the table gives medians of wall
time, CPU time (user+sys of the whole process tree), peak RSS (the largest
single process of the tree: the engine for e3suite) and the ratio to the
floor's median. It prints figures; it asserts nothing (the machine may be
loaded). ``--tmpfs`` puts suites, results and working directories in
/dev/shm: the difference with a plain run is the disk's share.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.metadata
import importlib.util
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SUITE = '''\
import sys

from e3suite import FragmentContext, TestDriver, Testsuite, TestStatus
from e3suite.drivers import ShellDriver


class CommandDriver(TestDriver):
    """The benchmark's driver: ``chain`` chained fragments, each running ``cmd`` in the test directory."""

    def add_fragments(self) -> None:
        after: tuple[str, ...] = ()
        for i in range(self.test_env.get("chain", 1)):
            self.add_fragment(f"f{i}", self.step, after=after)
            after = (f"f{i}",)

    def run_command(self, ctx: FragmentContext) -> bool:
        return ctx.shell(self.test_env["cmd"], cwd=ctx.test_dir).ok  # like xargs: where the test is

    def step(self, ctx: FragmentContext) -> None:
        ok = self.run_command(ctx)
        if ctx.fragment_id.endswith(f":f{self.test_env.get('chain', 1) - 1}"):
            ctx.result.set_status(TestStatus.PASS if ok else TestStatus.FAIL)


class ChainDriver(CommandDriver):
    """As a user writes it: ``ctx.shell`` with its defaults (the testcase's working directory)."""

    def run_command(self, ctx: FragmentContext) -> bool:
        return ctx.shell(self.test_env["cmd"]).ok


class BenchSuite(Testsuite):
    test_driver_map = {"shell": ShellDriver, "command": CommandDriver, "chain": ChainDriver}


if __name__ == "__main__":
    sys.exit(BenchSuite().main())
'''

LIT_CFG = """\
import lit.formats

config.name = "bench"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".test"]
"""


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
    "W1": Workload("W1", 1000, ["true"], 2),
    "W1j1": Workload("W1", 1000, ["true"], 1),
    "W2": Workload("W2", 200, ["sleep", "0.1"], 8, ideal=2.5),
    "W4": Workload("W4", 200, ["true"], 2, chain=5),
    "W5": Workload("W5", 10_000, ["true"], 2),
}
DEFAULT_WORKLOADS = ["W1", "W2", "W4", "W5"]
ROWS = ["floor", "e3suite", "next-run", "bench-driver", "lit", "other-tree"]


@dataclass
class Sample:
    wall: float
    cpu: float
    rss: int  # bytes


def yaml_list(argv: list[str], quoted: bool = False) -> str:
    # The shell driver takes the items as written ([true] runs true); a
    # driver of ours gets what YAML makes of them: quote them.
    return "[" + ", ".join(f'"{a}"' if quoted else a for a in argv) + "]"


def make_suite(root: Path, workload: Workload, kind: str) -> Path:
    """The testsuite of ``kind`` (stock, bench or lit) for ``workload``, made once."""
    suite = root / f"{workload.name}-{workload.tests}-{kind}"
    if suite.is_dir():
        return suite
    tests = suite / "tests"
    tests.mkdir(parents=True)
    if kind == "lit":
        (tests / "lit.cfg.py").write_text(LIT_CFG)
        text = f"RUN: {' '.join(workload.argv)}\n" * workload.chain
        for i in range(workload.tests):
            (tests / f"t{i:05d}.test").write_text(text)
        return suite
    (suite / "testsuite.py").write_text(SUITE)
    if kind == "bench":
        text = f"driver: command\ncmd: {yaml_list(workload.argv, quoted=True)}\nchain: {workload.chain}\n"
    elif workload.chain > 1:
        text = f"driver: chain\ncmd: {yaml_list(workload.argv, quoted=True)}\nchain: {workload.chain}\n"
    else:
        text = f"driver: shell\ncmd: {yaml_list(workload.argv)}\n"
    for i in range(workload.tests):
        case = tests / f"t{i:05d}"
        case.mkdir()
        (case / "test.yaml").write_text(text)
    return suite


def measure(argv: list[str], cwd: Path, stdin: bytes | None = None, env: dict[str, str] | None = None) -> Sample:
    # stderr goes to a file, not a pipe: a run that prints a lot there must
    # not block on a pipe nobody reads until it exits.
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=env,
        )
        if stdin is not None:
            assert proc.stdin is not None
            proc.stdin.write(stdin)
            proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            errors.seek(0)
            text = errors.read().decode(errors="replace")[-4000:]
            raise SystemExit(f"{' '.join(argv)} (in {cwd}) exited with {proc.returncode}:\n{text}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024)


def lit_command() -> list[str] | None:
    """How to start lit from this interpreter, or None when it is not installed."""
    if importlib.util.find_spec("lit") is None:
        return None
    return [sys.executable, "-c", "import sys; from lit.main import main; sys.exit(main())"]


class Bench:
    """The suites, results directories and commands of one benchmark run."""

    def __init__(self, root: Path, temp_dir: Path | None) -> None:
        self.root = root
        self.temp_dir = temp_dir
        self.runs = 0
        self.lit = lit_command()
        self.other_trees: list[Path] = []

    def e3suite_argv(self, workload: Workload, out: Path) -> list[str]:
        argv = [sys.executable, "testsuite.py", f"-j{workload.jobs}", "-q", "--no-color", "-o", str(out)]
        if self.temp_dir is not None:
            argv += ["--temp-dir", str(self.temp_dir)]
        return argv

    def fresh_output(self) -> Path:
        self.runs += 1
        return self.root / "fresh" / f"out{self.runs:04d}"

    def remove_fresh_outputs(self) -> None:
        # At the end of each round, not after each run: deleting thousands of
        # files just before a run slows down its file creations (ext4), and
        # the rotating order of the rows spreads that over them. Not at the
        # end of the benchmark: W5's rounds would take gigabytes.
        shutil.rmtree(self.root / "fresh", ignore_errors=True)

    def runner(self, row: str, workload: Workload) -> Callable[[], Sample] | None:
        """A function timing one run of ``row`` on ``workload`` (None: the row cannot run)."""
        if row == "floor":
            cwd = make_suite(self.root, workload, "stock")
            # xargs appends one argument per command: give it the command's
            # last word. A one-word command gets an argument it ignores
            # (``true x``): without a command xargs would run ``echo true``.
            head, last = (workload.argv[:-1], workload.argv[-1]) if len(workload.argv) > 1 else (workload.argv, "x")
            stdin = (last + "\n").encode() * (workload.tests * workload.chain)
            return lambda: measure(["xargs", "-P", str(workload.jobs), "-n", "1", *head], cwd, stdin)
        if row.startswith("other-tree"):
            if not self.other_trees:
                return None
            tree = self.other_trees[int(row.partition(":")[2] or 0)]
            suite = make_suite(self.root, workload, "stock")
            env = dict(os.environ, PYTHONPATH=str(tree))
            compileall.compile_dir(str(tree / "e3suite"), quiet=1)
            return lambda: measure(self.e3suite_argv(workload, self.fresh_output()), suite, env=env)
        if row in ("e3suite", "bench-driver"):
            suite = make_suite(self.root, workload, "stock" if row == "e3suite" else "bench")
            return lambda: measure(self.e3suite_argv(workload, self.fresh_output()), suite)
        if row == "next-run":
            suite = make_suite(self.root, workload, "stock")
            out = self.root / f"again-{workload.name}-{workload.jobs}"
            for _ in range(2):  # the previous run and the one before it are there
                measure(self.e3suite_argv(workload, out), suite)
            return lambda: measure(self.e3suite_argv(workload, out), suite)
        if row == "lit":
            lit = self.lit
            if lit is None:
                return None
            suite = make_suite(self.root, workload, "lit")
            times = suite / "tests" / ".lit_test_times.txt"

            def run_lit() -> Sample:
                times.unlink(missing_ok=True)  # a fresh checkout has no timing history either
                return measure([*lit, f"-j{workload.jobs}", "-q", "tests"], suite)

            return run_lit
        raise ValueError(row)


def median(samples: list[Sample]) -> Sample:
    return Sample(
        statistics.median(s.wall for s in samples),
        statistics.median(s.cpu for s in samples),
        int(statistics.median(s.rss for s in samples)),
    )


ROW_LABELS = {
    "floor": "xargs -P (floor)",
    "e3suite": "e3suite, stock driver, fresh -o",
    "next-run": "e3suite, stock driver, same -o (next run)",
    "bench-driver": "e3suite, CommandDriver in test dir, fresh -o",
    "lit": "LLVM lit",
    "other-tree": "e3suite of --other-tree, stock driver, fresh -o",
}


def row_label(bench: Bench, row: str, workload: Workload, lit_version: str) -> str:
    if row.startswith("other-tree:"):
        tree = bench.other_trees[int(row.partition(":")[2])]
        label = f"e3suite of {tree}, fresh -o"
        return label.replace("e3suite", "e3suite, 5-fragment driver", 1) if workload.chain > 1 else label
    if workload.chain > 1 and row in ("e3suite", "next-run"):
        return ROW_LABELS[row].replace("stock driver", "5-fragment driver, ctx.shell defaults")
    if row == "lit":
        runs = f", {workload.chain} RUN lines per test" if workload.chain > 1 else ""
        return f"LLVM lit {lit_version} (ShTest{runs})"
    return ROW_LABELS[row]


def run_workload(bench: Bench, workload: Workload, rows: list[str], rounds: int, lit_version: str) -> list[str]:
    runners = {}
    notes = []
    for row in rows:
        runner = bench.runner(row, workload)
        if runner is None and row == "lit":
            notes.append(f"{workload.label}: {row} skipped: lit is not installed (pip install lit)")
        elif runner is not None:
            runners[row] = runner
    samples: dict[str, list[Sample]] = {row: [] for row in runners}
    order = list(runners)
    for i in range(rounds):
        for row in order[i % len(order) :] + order[: i % len(order)]:
            samples[row].append(runners[row]())
        bench.remove_fresh_outputs()
    floor = median(samples["floor"]) if "floor" in samples else None
    for row in order:
        m = median(samples[row])
        ratio = f"{m.wall / floor.wall:.2f}" if floor is not None else ""
        ideal = f"{m.wall / workload.ideal:.2f}" if workload.ideal else ""
        ms = m.wall / workload.tests * 1000
        print(
            f"| {workload.label} | {row_label(bench, row, workload, lit_version)} | {m.wall:.3f} | {ratio} | {ideal} | "
            f"{m.cpu:.2f} | {m.rss / 2**20:.0f} | {ms:.2f} |",
            flush=True,
        )
    return notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "workloads",
        nargs="*",
        metavar="WORKLOAD",
        help=f"among {', '.join(WORKLOADS)} (default: {' '.join(DEFAULT_WORKLOADS)})",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--rows", default=",".join(ROWS), help=f"among {','.join(ROWS)}, comma-separated (default: all)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile one e3suite run (stock driver) per workload")
    parser.add_argument("--keep", metavar="DIR", help="generate suites in DIR and keep them")
    parser.add_argument(
        "--other-tree",
        action="append",
        metavar="DIR",
        type=Path,
        help="also run the e3suite package of DIR (DIR/e3suite), e.g. the commit before: an A/B row",
    )
    parser.add_argument(
        "--tmpfs",
        action="store_true",
        help="suites, results and working directories in /dev/shm: the engine's cost without the disk's",
    )
    args = parser.parse_args()
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}: choose among {', '.join(WORKLOADS)}")
    rows = [r for r in ROWS if r in args.rows.split(",")]
    if not rows or set(args.rows.split(",")) - set(ROWS):
        parser.error(f"--rows: choose among {','.join(ROWS)}")

    base = "/dev/shm" if args.tmpfs else None
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="e3suite-bench-", dir=base))
    root.mkdir(parents=True, exist_ok=True)
    temp_dir = root / "tmp" if args.tmpfs else None
    if temp_dir is not None:
        temp_dir.mkdir(exist_ok=True)
    # Users' machines keep compiled modules; this one may be told not to
    # write them (PYTHONDONTWRITEBYTECODE): compile once, outside the timing.
    compileall.compile_dir(str(REPO / "e3suite"), quiet=1)
    env_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(REPO) + (os.pathsep + env_path if env_path else "")
    bench = Bench(root, temp_dir)
    bench.other_trees = [tree.resolve() for tree in args.other_tree or []]
    rows = [row for row in rows if row != "other-tree"] + [f"other-tree:{i}" for i in range(len(bench.other_trees))]
    lit_version = importlib.metadata.version("lit") if bench.lit is not None else ""
    try:
        if args.profile:
            for name in args.workloads or DEFAULT_WORKLOADS:
                workload = WORKLOADS[name]
                profile(workload, make_suite(root, workload, "stock"), bench)
            return 0
        print("| workload | runner | wall s | x floor | x ideal | CPU s | peak RSS MiB | ms/testcase |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        notes = []
        for name in args.workloads or DEFAULT_WORKLOADS:
            notes += run_workload(bench, WORKLOADS[name], rows, args.rounds, lit_version)
        for note in notes:
            print(note)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def profile(workload: Workload, suite: Path, bench: Bench) -> None:
    """cProfile the engine process (workers are not profiled: their cost shows as wait time)."""
    stats_file = bench.root / f"{workload.name}.prof"
    argv = bench.e3suite_argv(workload, bench.fresh_output())
    measure([argv[0], "-m", "cProfile", "-o", str(stats_file), *argv[1:]], suite)
    print(f"== {workload.label}: engine process, by own time")
    pstats.Stats(str(stats_file)).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    sys.exit(main())
