#!/usr/bin/env python3
"""How long reports take on 10,000 results: JUnit + HTML + JSON (issue 5: at most 2 s).

Usage: .venv/bin/python tests/bench/reports.py [--tests N] [--rounds R]

It writes a synthetic results directory of N testcases (and a previous one
to compare with) through the store's own writer: 2 fragments per testcase
on 2 slots, 10% failing with a 2 KiB log and a diff, the rest with a
200-character log. Then it times, R times each:

- the whole command a CI job runs, in a fresh interpreter:
  ``e3suite report NEW --compare OLD --junit F --html F --json F``;
- in-process: loading the directory (with the comparison), and rendering
  each format alone.

Figures are printed (median, min), never asserted: the machine is shared.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from e3suite.model import FailureReason, FragmentRecord, FragmentState, TestResult, TestStatus
from e3suite.reports.data import load_report
from e3suite.reports.html import render_html
from e3suite.reports.json_report import render_json
from e3suite.reports.junit import render_junit
from e3suite.store import ResultsWriter


def write_results(path: Path, tests: int, seed: int) -> None:
    rng = random.Random(seed)
    writer = ResultsWriter(path)
    start = 1_700_000_000.0
    writer.journal.write("run_started", start=start, version="bench", argv=["bench"], cwd="/", host="bench",
                         python="3", jobs=2, tests_dir="/tests", selection=[])
    clock = [start, start]
    for i in range(tests):
        test_id = f"group{i % 50}/sub{i % 7}/test{i}"
        failing = rng.random() < 0.1
        status = TestStatus.FAIL if failing else rng.choice([TestStatus.PASS] * 8 + [TestStatus.SKIP])
        result = TestResult(test_id, status, "output differs" if failing else "")
        result.log = ("some output line of the test\n" * 70) if failing else ("ok line\n" * 25)
        if failing:
            result.diff = "--- expected\n+++ actual\n@@ -1 +1 @@\n-a\n+b\n"
            result.failure_reasons = {FailureReason.DIFF}
        for name in ("build", "run"):
            slot = i % 2
            duration = rng.uniform(0.001, 0.05)
            result.fragments.append(
                FragmentRecord(name, FragmentState.COMPLETE, slot, clock[slot], clock[slot] + duration)
            )
            clock[slot] += duration
        result.start, result.end = result.fragments[0].start, result.fragments[-1].end
        result.duration = sum((f.end or 0) - (f.start or 0) for f in result.fragments)
        writer.write_result(result)
    end = max(clock)
    writer.journal.write("run_ended", end=end, duration=end - start, interrupted=False)
    writer.write_index({"start": start, "end": end, "duration": end - start, "version": "bench", "argv": ["bench"],
                        "cwd": "/", "host": "bench", "python": "3", "jobs": 2, "tests_dir": "/tests",
                        "interrupted": False, "selection": []})
    writer.close()


def timed(fn: Callable[[], object], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def row(name: str, times: list[float]) -> str:
    return f"  {name:<46} median {statistics.median(times):6.3f} s   min {min(times):6.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tests", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="e3suite-bench-") as tmp:
        root = Path(tmp)
        write_results(root / "old", args.tests, seed=1)
        write_results(root / "new", args.tests, seed=2)
        command = [
            sys.executable, "-m", "e3suite", "report", str(root / "new"), "--compare", str(root / "old"),
            "--junit", str(root / "r.xml"), "--html", str(root / "r.html"), "--json", str(root / "r.json"),
        ]

        def whole() -> None:
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)

        print(f"{args.tests} results, {args.rounds} rounds")
        print(row("e3suite report --junit --html --json (process)", timed(whole, args.rounds)))
        report = load_report(root / "new", root / "old")
        print(row("load directory + compare", timed(lambda: load_report(root / "new", root / "old"), args.rounds)))
        print(row("render JUnit XML", timed(lambda: render_junit(report), args.rounds)))
        print(row("render HTML", timed(lambda: render_html(report), args.rounds)))
        print(row("render JSON", timed(lambda: render_json(report), args.rounds)))
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in sorted(root.glob("r.*")))
        print(f"  sizes: {sizes}")


if __name__ == "__main__":
    main()
