"""What the tests of the e3 compat layer share: a small e3-style testsuite, run by ``e3suite e3``."""

from __future__ import annotations

import os
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


#: The environment variable that tags every process a run starts (inherited), to find leftovers.
MARK = "E3SUITE_COMPAT_TEST_MARK"


def run_both(
    script: Path, *args: str, cwd: Path, mark: str, log_file: str | None = None
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """``script ARGS`` under e3-testsuite 27.x (``-o cwd/e3-out``), then under ``e3suite e3`` (``-o cwd/out``).

    ``log_file``: ``--log-file`` in each one's ``-o`` directory. Every
    process of both runs carries ``MARK=mark`` in its environment (see
    ``leftovers``).
    """
    env = dict(os.environ, **{MARK: mark})
    e3_log = ["--log-file", str(cwd / "e3-out" / log_file)] if log_file else []
    our_log = ["--log-file", str(cwd / "out" / log_file)] if log_file else []
    for out in ("e3-out", "out"):
        (cwd / out).mkdir(exist_ok=True)
    temp: list[str] = []
    if not {"-t", "--temp-dir", "-d", "--dev-temp"} & set(args):
        # Working directories kept (of failing testcases) go below cwd, not to /tmp for good.
        (cwd / "temp").mkdir(exist_ok=True)
        temp = ["-t", str(cwd / "temp")]
    real = subprocess.run(
        [sys.executable, str(script), "-o", str(cwd / "e3-out"), *temp, *e3_log, *args],
        cwd=cwd, capture_output=True, text=True, timeout=300, env=env,
    )
    ours = subprocess.run(
        [sys.executable, "-m", "e3suite", "e3", str(script), "-o", str(cwd / "out"), *temp, *our_log, *args],
        cwd=cwd, capture_output=True, text=True, timeout=300, env=env,
    )
    return real, ours


def e3_verdicts(out: Path) -> dict[str, str]:
    """e3-testsuite's verdicts, result name -> status, from its results directory."""
    import json

    index = json.loads((out / "new" / "_index.json").read_text())
    return {e["test_name"]: e["status"] for e in index["entries"]}


def leftovers(mark: str) -> list[str]:
    """The processes still alive (zombies aside) whose environment holds ``MARK=mark``."""
    import psutil

    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get(MARK) == mark and p.status() != psutil.STATUS_ZOMBIE:
                found.append(f"{p.pid} {p.name()}")
        except (psutil.Error, OSError):
            continue
    return found


def e3_log(out: Path, name: str) -> str:
    """The log e3-testsuite kept for its result ``name``, read from its results directory."""
    import json

    import yaml

    class Loader(yaml.BaseLoader):  # e3-testsuite, once imported, registers its classes on SafeLoader
        pass

    # Its result files are tagged with e3-testsuite's classes: read them as plain mappings.
    def plain(loader: yaml.BaseLoader, suffix: str, node: yaml.Node) -> object:
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_scalar(node)  # type: ignore[arg-type]

    Loader.add_multi_constructor("!", plain)
    Loader.add_constructor("tag:yaml.org,2002:set", lambda loader, node: loader.construct_mapping(node))
    index = json.loads((out / "new" / "_index.json").read_text())
    entry = next(e for e in index["entries"] if e["test_name"] == name)
    result = yaml.load((out / "new" / entry["filename"]).read_text(), Loader=Loader)
    return str(result["log"])
