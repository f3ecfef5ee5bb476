"""Helpers of the report tests: the fixed results directories and snapshot files.

Snapshots live in tests/unit/data/snapshots. A difference fails the test with
a unified diff; ``E3SUITE_UPDATE_SNAPSHOTS=1 pytest tests/unit`` rewrites
them (then read the diff before committing).
"""

from __future__ import annotations

import difflib
import io
import os
import shutil
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from e3suite import cli

DATA = Path(__file__).resolve().parent / "data"
RESULTS = DATA / "results"
SNAPSHOTS = DATA / "snapshots"


def check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("E3SUITE_UPDATE_SNAPSHOTS"):
        path.write_text(text, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8") if path.exists() else ""
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(True), text.splitlines(True), f"{name} (snapshot)", f"{name} (now)"
            )
        )
        raise AssertionError(f"snapshot {name} differs (E3SUITE_UPDATE_SNAPSHOTS=1 rewrites it):\n{diff}")


def copy_results(tmp_path: Path) -> Path:
    """A writable copy of tests/unit/data/results (old + new), as ``tmp_path/results``."""
    target = tmp_path / "results"
    shutil.copytree(RESULTS, target)
    return target


def run_report(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """``e3suite report ARGV`` in-process, from ``cwd``: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old_cwd = Path.cwd()
    os.chdir(cwd)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = cli.main(["report", *argv])
    finally:
        os.chdir(old_cwd)
        sys.stdout.flush()
    return code, out.getvalue(), err.getvalue()
