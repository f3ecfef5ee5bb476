"""What the tests of the e3 compat layer share: a small e3-style testsuite, run by ``e3suite e3``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SUITE = '''
import os, sys
from e3.testsuite import Testsuite
from e3.testsuite.driver.classic import ClassicTestDriver


class Shell(ClassicTestDriver):
    def run(self):
        self.shell(["sh", "-c", self.test_env.get("cmd", "true")])


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"shell": Shell}
    default_driver = "shell"


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


def run_e3(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "e3suite", "e3", str(script), *args],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )


def make_suite(tmp_path: Path, source: str = SUITE, tests: dict[str, str] | None = None) -> Path:
    for name, yaml in (tests or {"a": 'cmd: "true"\n'}).items():
        (tmp_path / "tests" / name).mkdir(parents=True)
        (tmp_path / "tests" / name / "test.yaml").write_text(yaml)
    script = tmp_path / "testsuite.py"
    script.write_text(textwrap.dedent(source))
    return script
