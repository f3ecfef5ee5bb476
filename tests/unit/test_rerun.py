"""``--failed`` takes again what the last run did not see pass, testcases it never ran included.

A run stopped by Ctrl-C or a failure limit gives the testcases it did not
reach SKIP "not run: ...": ``--failed`` left them out and carried their SKIP
over, so a testcase that failed before the interruption was never run again
and the ``--failed`` run passed (exit 0).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import e3suite.rerun as rerun
import e3suite.store as store
from test_interrupt_run import REPO, make_suite


def test_what_runs_again(tmp_path: Path) -> None:
    entries = [
        {"test": test, "status": status, "message": message, "duration": 0.1, "record": None}
        for test, status, message in [
            ("pass", "PASS", ""),
            ("fail", "FAIL", "exit status 1"),
            ("error", "ERROR", "no verdict: the run ended before this testcase finished"),
            ("flaky", "FLAKY", "passed on attempt 2"),
            ("dependant", "SKIP", "dependency fail:run failed"),
            ("interrupted", "SKIP", "not run: interrupted"),
            ("limited", "SKIP", "not run: failure limit reached"),
            ("unwritten", "SKIP", "not run: the results could not be written"),
            ("control", "SKIP", "needs a GPU"),
            ("na", "NOT_APPLICABLE", "not run: interrupted as a driver's own words"),
        ]
    ]
    store.write_index(tmp_path, {"start": 1.0}, entries)
    assert rerun.to_run_again(tmp_path) == {
        "fail", "error", "flaky", "dependant", "interrupted", "limited", "unwritten",
    }


def test_failed_after_a_failure_limit_runs_what_the_limit_skipped(tmp_path: Path) -> None:
    make_suite(tmp_path, {"a": {"cmd": "exit 1"}, "b": {"cmd": "true"}, "c": {"cmd": "true"}})
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "testsuite.py", "--no-color", "-j1", *args],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )

    first = run("--max-failures", "1")
    assert first.returncode == 1, first.stdout + first.stderr
    assert "SKIP   b: not run: failure limit reached" in first.stdout
    again = run("--failed")
    assert again.returncode == 1, again.stdout + again.stderr
    assert "PASS   b" in again.stdout and "PASS   c" in again.stdout and "FAIL   a" in again.stdout
    index = json.loads((tmp_path / "out" / "new" / "index.json").read_text())
    assert {e["test"]: (e["status"], e.get("carried_over", False)) for e in index["results"]} == {
        "a": ("FAIL", False), "b": ("PASS", False), "c": ("PASS", False),
    }
