#!/usr/bin/env python3
"""Start-up of a one-testcase run: from ``./testsuite.py`` to its first command.

    .venv/bin/python tests/bench/startup.py              # 15 runs, medians
    .venv/bin/python tests/bench/startup.py --runs 30 --importtime
    .venv/bin/python tests/bench/startup.py --other-tree /tmp/before   # A/B, runs interleaved

The testcase is a stock ``shell`` one whose command is ``date +%s.%N``: the
time it prints (read back from the results record) minus the time just
before the benchmark started ``python testsuite.py -q -o DIR`` (a fresh
``DIR`` each run) is the start-up; the rest of the run's wall time is the
end (reaping, records, index, summary). On a loaded machine the CPU time
of the whole run (every process, from ``wait4``) moves less. Also shown: the same for ``python
-c pass`` (the interpreter alone) and, with ``--importtime``, the modules
that ``python -X importtime`` shows taking longest (cumulative, median over
the runs), and with ``--other-tree DIR`` the same run with the e3suite
package of DIR, interleaved with this tree's runs. It asserts nothing.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import e3suite.store as store

REPO = Path(__file__).resolve().parents[2]

SUITE = """\
import sys

from e3suite import Testsuite
from e3suite.drivers import ShellDriver


class StartupSuite(Testsuite):
    test_driver_map = {"shell": ShellDriver}


if __name__ == "__main__":
    sys.exit(StartupSuite().main())
"""


def one_run(
    suite: Path, out: Path, importtime: bool, tree: Path = REPO
) -> tuple[float, float, float, dict[str, int]]:
    """Start-up and wall time of one run, its CPU time (whole process tree), import times."""
    argv = [sys.executable, *(["-X", "importtime"] if importtime else []), "testsuite.py", "-q", "-o", str(out)]
    env_path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": str(tree) + (os.pathsep + env_path if env_path else "")}
    with tempfile.TemporaryFile() as errors:
        start = time.time()
        proc = subprocess.Popen(argv, cwd=suite, stdout=subprocess.DEVNULL, stderr=errors, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.time() - start
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} exited with {os.waitstatus_to_exitcode(status)}:\n{stderr[-3000:]}")
    record = store.load_records(out / "new")["first"]
    first = float(record["processes"][0]["output"])
    imports: dict[str, int] = {}
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = line.split("|")
            imports[name.strip()] = int(cumulative)
    return first - start, wall, usage.ru_utime + usage.ru_stime, imports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--importtime", action="store_true", help="also show the slowest imports")
    parser.add_argument("--other-tree", type=Path, metavar="DIR", help="also time the e3suite package of DIR")
    args = parser.parse_args()
    for tree in (REPO, args.other_tree):
        if tree is not None:
            compileall.compile_dir(str(tree / "e3suite"), quiet=1)  # as on users' machines
    root = Path(tempfile.mkdtemp(prefix="e3suite-startup-"))
    try:
        suite = root / "suite"
        (suite / "tests" / "first").mkdir(parents=True)
        (suite / "testsuite.py").write_text(SUITE)
        (suite / "tests" / "first" / "test.yaml").write_text("driver: shell\ncmd: [date, +%s.%N]\n")
        firsts, walls, cpus, interpreter = [], [], [], []
        other: list[float] = []
        imports: dict[str, list[int]] = defaultdict(list)
        for i in range(args.runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            interpreter.append(time.perf_counter() - start)
            first, wall, cpu, times = one_run(suite, root / f"out{i}", args.importtime)
            firsts.append(first)
            walls.append(wall)
            cpus.append(cpu)
            for name, value in times.items():
                imports[name].append(value)
            if args.other_tree is not None:
                other.append(one_run(suite, root / f"other{i}", False, args.other_tree)[0])
        print(f"interpreter alone (python -c pass): {statistics.median(interpreter) * 1000:.1f} ms")
        print(
            f"./testsuite.py to the first command: {statistics.median(firsts) * 1000:.1f} ms "
            f"(min {min(firsts) * 1000:.1f}, max {max(firsts) * 1000:.1f})"
        )
        if other:
            print(
                f"the same with {args.other_tree}: {statistics.median(other) * 1000:.1f} ms "
                f"(min {min(other) * 1000:.1f}, max {max(other) * 1000:.1f})"
            )
        print(f"whole one-testcase run: {statistics.median(walls) * 1000:.1f} ms")
        print(f"CPU time of the whole run (user+sys, every process): {statistics.median(cpus) * 1000:.1f} ms")
        if imports:
            print("slowest imports, cumulative ms (median):")
            ranked = sorted(imports.items(), key=lambda item: -statistics.median(item[1]))
            for name, values in ranked[:25]:
                print(f"  {statistics.median(values) / 1000:7.1f}  {name}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
