"""The wheel a user installs holds e3suite whole, and builds without warnings.

Every other test runs e3suite from the source tree (PYTHONPATH, an editable
install), where a module or a file left out of the package would go
unnoticed. Here the wheel is built as ``pip install e3suite`` or ``pip
wheel`` builds it, from a copy of the tracked files, and run from the wheel
alone: ``python -m e3suite``, and the tutorial's first testsuite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SUITE = """\
import sys
from e3suite import Testsuite
from e3suite.drivers import DiffDriver, ShellDriver

class MySuite(Testsuite):
    test_driver_map = {"shell": ShellDriver, "diff": DiffDriver}

if __name__ == "__main__":
    sys.exit(MySuite().main())
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The wheel and what its build printed."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    tmp = tmp_path_factory.mktemp("wheel")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    source = tmp / "src"
    for name in tracked.decode().split("\0"):
        if name and (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp / "dist"), str(source)],
        capture_output=True, text=True, timeout=600,
    )
    if build.returncode != 0:
        # pip fetches the build backend (setuptools) from the package index.
        pytest.skip(f"cannot build a wheel here (no package index?): {build.stderr.strip()[-300:]}")
    (found,) = (tmp / "dist").glob("e3suite-*.whl")
    return found, build.stdout + build.stderr


def test_the_wheel_holds_every_module_and_the_console_script(wheel: tuple[Path, str]) -> None:
    path, _ = wheel
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
        metadata = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    modules = {str(p.relative_to(REPO)) for p in (REPO / "e3suite").rglob("*.py")}
    assert modules - names == set()
    assert "e3suite = e3suite.cli:main" in entry_points
    assert "License-Expression: GPL-3.0-or-later" in metadata
    # The license's text travels with the package it licenses.
    assert "License-File: LICENSE" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), sorted(names)
    assert "Provides-Extra: dask" in metadata


def test_the_wheel_builds_without_deprecation_warnings(wheel: tuple[Path, str]) -> None:
    # `license = { text = ... }` built with "project.license as a TOML table
    # is deprecated ... By 2027-Feb-18 ... your builds will no longer be supported".
    _, output = wheel
    assert "deprecated" not in output.lower(), output


def test_e3suite_runs_from_the_wheel_alone(wheel: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = wheel
    (tmp_path / "testsuite.py").write_text(SUITE)
    (tmp_path / "tests" / "hello").mkdir(parents=True)
    (tmp_path / "tests" / "hello" / "test.yaml").write_text("driver: diff\ncmd: [echo, hello, world]\n")
    (tmp_path / "tests" / "hello" / "test.out").write_text("hello world\n")
    # A pure-Python wheel is importable as it is: the source tree is left out.
    env = dict(os.environ, PYTHONPATH=str(path), NO_COLOR="1")
    where = subprocess.run([sys.executable, "-c", "import e3suite; print(e3suite.__file__)"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(path)), where
    version = subprocess.run([sys.executable, "-m", "e3suite", "--version"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.startswith("e3suite "), version.stderr
    run = subprocess.run([sys.executable, "testsuite.py", "-j1"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1] == "e3suite: 1 passed, 0 failed, 0 skipped"
    report = subprocess.run([sys.executable, "-m", "e3suite", "report", "out/new", "--html", "r.html", "--junit",
                             "r.xml", "--json", "r.json"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    assert report.returncode == 0, report.stderr
    assert all((tmp_path / name).stat().st_size > 0 for name in ("r.html", "r.xml", "r.json"))
