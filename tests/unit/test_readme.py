"""The README's minimal testsuite is run as written, so it cannot rot."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_files() -> dict[str, str]:
    """Fenced blocks whose first comment line names a file: {path: text}."""
    text = (ROOT / "README.md").read_text()
    files = {}
    for block in re.findall(r"```(?:python|yaml)\n(.*?)```", text, re.S):
        match = re.search(r"^# (\S+\.(?:py|yaml))$", block, re.M)
        if match:
            files[match.group(1)] = block
    return files


def test_readme_minimal_testsuite_runs_as_documented(tmp_path: Path) -> None:
    files = readme_files()
    assert set(files) == {"testsuite.py", "drivers/hello.py", "tests/greeting/test.yaml"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "drivers" / "__init__.py").write_text("")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "testsuite.py", "-j8"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == "e3suite: 1 passed, 0 failed, 0 skipped"
    # The claim the README makes about it.
    assert "`./testsuite.py -j8` runs it and ends with `e3suite: 1 passed, 0 failed, 0 skipped`" in (
        ROOT / "README.md").read_text()
