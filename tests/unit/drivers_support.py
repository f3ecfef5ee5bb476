"""Helpers for the stock-driver tests: write a small suite, run it, read results.

Suites run as real processes (``python testsuite.py``), as users run them,
so exit codes, printed lines and result records are what users get.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import e3suite.store as store

REPO = Path(__file__).resolve().parents[2]

DEFAULT_SUITE = '''
import sys
from e3suite import Testsuite
from e3suite.drivers import DiffDriver, ShellDriver

class Suite(Testsuite):
    test_driver_map = {"shell": ShellDriver, "diff": DiffDriver}

if __name__ == "__main__":
    sys.exit(Suite().main())
'''


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    results: dict[str, dict[str, Any]]


def make_suite(root: Path, files: dict[str, str | bytes], suite: str = DEFAULT_SUITE) -> Path:
    """Write ``testsuite.py`` and ``files`` (paths relative to ``root``)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "testsuite.py").write_text(textwrap.dedent(suite))
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content))
    return root


def run_suite(root: Path, *args: str, timeout: float = 120) -> Run:
    env = dict(os.environ, NO_COLOR="1", PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "testsuite.py", "--no-color", *args],
        cwd=root, capture_output=True, text=True, timeout=timeout, env=env,
    )
    results: dict[str, dict[str, Any]] = {}
    with contextlib.suppress(store.StoreError):
        results = store.load_records(root / "out" / "new")
    return Run(proc.returncode, proc.stdout, proc.stderr, results)


def run_e3suite(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NO_COLOR="1", PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "e3suite", *args], cwd=root, capture_output=True, text=True, timeout=120, env=env
    )
