"""e3-testsuite 27.x's command line and hooks, as an existing testsuite uses them under ``e3suite e3``.

Each test runs a small e3-style testsuite through ``e3suite e3`` and pins
what a user of that testsuite under e3-testsuite would see: its options
(short spellings included), the state ``set_up`` finds, its reports.
"""

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


def _e3(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "e3suite", "e3", str(script), *args],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )


def _suite(tmp_path: Path, source: str = SUITE, tests: dict[str, str] | None = None) -> Path:
    for name, yaml in (tests or {"a": 'cmd: "true"\n'}).items():
        (tmp_path / "tests" / name).mkdir(parents=True)
        (tmp_path / "tests" / name / "test.yaml").write_text(yaml)
    script = tmp_path / "testsuite.py"
    script.write_text(textwrap.dedent(source))
    return script


def test_dev_temp_has_its_short_option(tmp_path: Path) -> None:
    """``-d DIR`` is e3-testsuite's spelling of ``--dev-temp DIR``: working directories kept in DIR."""
    script = _suite(tmp_path)
    proc = _e3(script, "-d", str(tmp_path / "dev"), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    kept = list((tmp_path / "dev").glob("e3suite-*/a"))
    assert len(kept) == 1, proc.stdout + proc.stderr
