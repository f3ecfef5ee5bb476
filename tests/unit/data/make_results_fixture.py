#!/usr/bin/env python3
"""Write the fixed results directories the report tests read (run once, commit the output).

``results/old`` and ``results/new`` are two runs of the same imaginary
suite, crafted so that the comparison has every category and the reports
meet every verdict, a diff, failure reasons, a log with markup and with
characters XML forbids, and fragments on two slots. Times are fixed so the
snapshots do not change. Run: ``python tests/unit/data/make_results_fixture.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from e3suite.model import FailureReason, FragmentRecord, FragmentState, TestResult, TestStatus
from e3suite.store import ResultsWriter

HERE = Path(__file__).resolve().parent / "results"
T0 = 1_700_000_000.0


def result(
    test_id: str,
    status: TestStatus,
    message: str = "",
    duration: float = 0.1,
    start: float = 0.0,
    slot: int = 0,
    log: str = "",
    **extra: Any,
) -> TestResult:
    r = TestResult(test_id, status, message, log=log)
    r.duration = duration
    r.start = T0 + start
    r.end = T0 + start + duration
    r.fragments = [FragmentRecord("run", FragmentState.COMPLETE, slot, r.start, r.end)]
    for key, value in extra.items():
        setattr(r, key, value)
    return r


def write_run(path: Path, run: dict[str, Any], results: list[TestResult]) -> None:
    writer = ResultsWriter(path)
    writer.journal.write("run_started", **run)
    for r in results:
        writer.journal.write("test_discovered", test=r.test_id)
    for r in results:
        for f in r.fragments:
            writer.journal.write("fragment_started", fragment=f"{r.test_id}:{f.name}", time=f.start)
            writer.journal.write(
                "fragment_ended", fragment=f"{r.test_id}:{f.name}", state=f.state.value, slot=f.slot,
                start=f.start, end=f.end,
            )
        writer.write_result(r)
    end = {"end": run["start"] + 4.0, "duration": 4.0, "interrupted": False}
    writer.journal.write("run_ended", **end)
    writer.write_index({**run, **end})
    writer.close()


def run_info(start: float) -> dict[str, Any]:
    return {
        "start": start, "version": "0.1.0", "argv": ["./testsuite.py", "-j2"], "cwd": "/work/project",
        "host": "ci-host", "python": "3.11.7", "jobs": 2, "tests_dir": "/work/project/tests", "selection": [],
    }


def main() -> None:
    shutil.rmtree(HERE, ignore_errors=True)
    P, F, E, S = TestStatus.PASS, TestStatus.FAIL, TestStatus.ERROR, TestStatus.SKIP
    old = [
        result("a/unchanged", P, duration=0.2),
        result("a/breaks", P, "ok", duration=0.3, start=0.2),
        result("a/still-broken", F, "wrong output", duration=0.2, slot=1),
        result("a/repaired", F, "wrong output", duration=0.1, start=0.5),
        result("a/now-skipped", P, duration=0.1, start=0.6, slot=1),
        result("gone/t", P, duration=0.1, start=0.7),
        result("perf/slow", P, duration=1.0, start=0.8, slot=1),
    ]
    write_run(HERE / "old", run_info(T0 - 3600), old)
    new = [
        result("a/unchanged", P, duration=0.2),
        result(
            "a/breaks", F, "output differs", duration=0.4, start=0.2,
            log="running <script>alert('x')</script> & more\x01\x1b[31m red\x1b[0m\nline 2\n",
            failure_reasons={FailureReason.DIFF},
            diff="--- expected\n+++ actual\n@@ -1 +1 @@\n-hello\n+hullo\n",
        ),
        result("a/still-broken", E, "c/d:run raised RuntimeError: boom", duration=0.2, slot=1,
               log="Traceback (most recent call last):\nRuntimeError: boom\n",
               failure_reasons={FailureReason.CRASH}),
        result("a/repaired", P, duration=0.1, start=0.6),
        result("a/now-skipped", S, "needs a GPU", duration=0.0, start=0.7, slot=1),
        result("new/xfail", TestStatus.XFAIL, "expected failure: bug #12 (wrong output)", duration=0.1, start=0.8),
        result("perf/slow", P, duration=3.0, start=0.9, slot=1),
        result("x/xpass", TestStatus.XPASS, "expected failure: bug #13", duration=0.1, start=1.0),
        result("x/verify", TestStatus.VERIFY, "check the plot by eye", duration=0.1, start=1.1),
        result("x/na", TestStatus.NOT_APPLICABLE, "Windows only", duration=0.0, start=1.2),
    ]
    write_run(HERE / "new", run_info(T0), new)


if __name__ == "__main__":
    main()
