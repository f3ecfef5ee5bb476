"""What e3-testsuite 27.x drivers do under ``e3suite e3``, differentially where it can be run.

Commands of ClassicTestDriver.shell (working directory, PATH, encodings,
timeouts), working directories, and the results a driver pushes: each
test runs a small e3-style testsuite under ``e3suite e3`` and, when
e3-testsuite is installed, under e3-testsuite too, and compares.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from compat_support import SUITE
from compat_support import make_suite as _suite
from compat_support import run_e3 as _e3

import e3suite.store as store

NO_COPY_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver.classic import ClassicTestDriver


class NoCopy(ClassicTestDriver):
    copy_test_directory = False  # and nothing makes the working directory

    def run(self):
        self.shell(["true"])


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"nocopy": NoCopy}
    default_driver = "nocopy"


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


@pytest.mark.skipif(importlib.util.find_spec("e3.testsuite") is None, reason="e3-testsuite 27.x is in the test extra")
def test_a_command_in_a_missing_working_directory_is_an_error_as_under_e3_testsuite(tmp_path: Path) -> None:
    """e3-testsuite cannot start it and the fragment raises (ERROR a.run_wrapper), no FAIL of a status 127."""
    script = _suite(tmp_path, NO_COPY_SUITE)
    real = subprocess.run([sys.executable, str(script), "-o", str(tmp_path / "e3-out")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    index = json.loads((tmp_path / "e3-out" / "new" / "_index.json").read_text())
    assert [(e["test_name"], e["status"]) for e in index["entries"]] == [("a.run_wrapper", "ERROR")], real.stderr
    proc = _e3(script, "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ERROR  a: a.run_wrapper" in proc.stdout, proc.stdout
    record = store.load_records(tmp_path / "out" / "new")["a"]
    assert "FileNotFoundError" in record["log"] and str(tmp_path) in record["log"]


ENV_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver.classic import ClassicTestDriver


class Tool(ClassicTestDriver):
    def run(self):
        # An environment of its own, without PATH: the program is still found on the testsuite's.
        self.shell(["mytool"], env={"FOO": "exact"})


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"tool": Tool}
    default_driver = "tool"


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


def test_a_program_on_the_testsuite_s_path_runs_with_an_environment_without_path(tmp_path: Path) -> None:
    """e3's Run looks the program up on the testsuite's PATH, then passes exactly ``env``."""
    script = _suite(tmp_path, ENV_SUITE)
    tool = tmp_path / "bin" / "mytool"
    tool.parent.mkdir()
    tool.write_text('#!/bin/sh\necho "FOO=$FOO BAR=${BAR-unset}"\n')
    tool.chmod(0o755)
    env = dict(os.environ, PATH=f"{tool.parent}{os.pathsep}{os.environ['PATH']}", BAR="leaks")
    proc = subprocess.run([sys.executable, "-m", "e3suite", "e3", str(script), "-o", str(tmp_path / "out"), "-E"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS   a" in proc.stdout, proc.stdout
    record = store.load_records(tmp_path / "out" / "new")["a"]
    assert "FOO=exact BAR=unset" in record["log"], record["log"]


ENCODING_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver.diff import DiffTestDriver


class Latin1(DiffTestDriver):
    def run(self):
        self.shell(["printf", "caf\\\\351\\\\n"])


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"latin1": Latin1}
    default_driver = "latin1"


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


@pytest.mark.skipif(importlib.util.find_spec("e3.testsuite") is None, reason="e3-testsuite 27.x is in the test extra")
def test_outputs_are_decoded_with_the_testcase_s_encoding_as_under_e3_testsuite(tmp_path: Path) -> None:
    """A Latin-1 or binary output matches its baseline byte for byte; one that does not decode is an ERROR."""
    script = _suite(tmp_path, ENCODING_SUITE, {
        "latin1": "encoding: iso-8859-1\n", "binary": "encoding: binary\n", "not_utf8": "{}\n",
    })
    for name in ("latin1", "binary", "not_utf8"):
        (tmp_path / "tests" / name / "test.out").write_bytes(b"caf\xe9\n")
    real = subprocess.run([sys.executable, str(script), "-o", str(tmp_path / "e3-out")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    index = json.loads((tmp_path / "e3-out" / "new" / "_index.json").read_text())
    e3 = {e["test_name"]: e["status"] for e in index["entries"]}
    assert e3 == {"latin1": "PASS", "binary": "PASS", "not_utf8": "ERROR"}, real.stderr
    proc = _e3(script, "-o", str(tmp_path / "out"), cwd=tmp_path)
    records = store.load_records(tmp_path / "out" / "new").values()
    ours = {r["id"]: r["status"] for r in records}
    assert ours == e3, proc.stdout + proc.stderr
    assert "ERROR  not_utf8: cannot decode process output (UnicodeDecodeError:" in proc.stdout


@pytest.mark.skipif(importlib.util.find_spec("e3.testsuite") is None, reason="e3-testsuite 27.x is in the test extra")
def test_timeouts_are_whole_seconds_and_zero_kills_at_once_as_under_e3_testsuite(tmp_path: Path) -> None:
    """e3's Run hands rlimit "%d" % timeout: 0 and 0.5 time out at once (a FAIL), not a ValueError (an ERROR)."""
    cmd = 'cmd: "sleep 2; echo done"\n'
    script = _suite(tmp_path, tests={"zero": cmd + "timeout: 0\n", "half": cmd + "timeout: 0.5\n"})
    real = subprocess.run([sys.executable, str(script), "-o", str(tmp_path / "e3-out"), "-E"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    index = json.loads((tmp_path / "e3-out" / "new" / "_index.json").read_text())
    assert {e["test_name"]: e["status"] for e in index["entries"]} == {"zero": "FAIL", "half": "FAIL"}, real.stderr
    assert "rlimit: Real time limit (0 s) exceeded" in real.stderr
    proc = _e3(script, "-o", str(tmp_path / "out"), "-E", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    for name in ("zero", "half"):
        assert f"FAIL   {name}: non-zero status code" in proc.stdout, proc.stdout
    assert proc.stdout.count("| rlimit: Real time limit (0 s) exceeded") == 2, proc.stdout
    assert "| done" not in proc.stdout  # never ran to its end


MKDIR_SUITE = '''
import os, sys
from e3.testsuite import Testsuite
from e3.testsuite.driver import TestDriver
from e3.testsuite.result import TestStatus


class Build(TestDriver):
    """e3-testsuite's documented pattern: the fragment makes its working directory."""

    def add_test(self, dag):
        self.add_fragment(dag, "build")

    def build(self, previous, slot):
        os.mkdir(self.working_dir())
        same = os.path.join(self.env.working_dir, self.test_name) == self.working_dir()
        ok = same and not self.test_env.get("fail")
        self.result.set_status(TestStatus.PASS if ok else TestStatus.FAIL, f"named after the test: {same}")
        self.push_result()


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"build": Build}
    default_driver = "build"


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


def test_working_dirs_are_named_after_e3_test_names(tmp_path: Path) -> None:
    """A nested testcase works in WORKING_ROOT/group__one, as under e3-testsuite: os.mkdir of it works."""
    script = _suite(tmp_path, MKDIR_SUITE, {"group/one": "{}\n", "group/two": "fail: true\n"})
    temp = tmp_path / "temp"
    proc = _e3(script, "-o", str(tmp_path / "out"), "-t", str(temp), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "PASS   group/one" in proc.stdout, proc.stdout
    assert "FAIL   group/two: named after the test: True" in proc.stdout, proc.stdout
    [root] = temp.glob("e3suite-*")
    assert sorted(p.name for p in root.iterdir()) == ["group__two"]  # the passing one's removed


TWICE_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver import TestDriver
from e3.testsuite.result import TestResult, TestStatus


class Twice(TestDriver):
    """A driver bug: two results under the testcase's name."""

    def add_test(self, dag):
        self.add_fragment(dag, "go")

    def go(self, previous, slot):
        self.result.set_status(TestStatus.PASS, "first")
        self.push_result()
        self.push_result(TestResult(self.test_name, env=self.test_env, status=TestStatus.FAIL, msg="second"))


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"twice": Twice}
    default_driver = "twice"


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


@pytest.mark.skipif(importlib.util.find_spec("e3.testsuite") is None, reason="e3-testsuite 27.x is in the test extra")
def test_a_name_pushed_twice_is_an_error_as_under_e3_testsuite(tmp_path: Path) -> None:
    """e3-testsuite keeps the result it collects first (the last pushed) and adds NAME__except1, an ERROR."""
    script = _suite(tmp_path, TWICE_SUITE)
    subprocess.run([sys.executable, str(script), "-o", str(tmp_path / "e3-out")],
                   cwd=tmp_path, capture_output=True, text=True, timeout=300)
    index = json.loads((tmp_path / "e3-out" / "new" / "_index.json").read_text())
    e3 = {e["test_name"]: e["status"] for e in index["entries"]}
    assert e3 == {"a": "FAIL", "a__except1": "ERROR"}
    proc = _e3(script, "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    records = list(store.load_records(tmp_path / "out" / "new").values())
    assert {r["info"]["e3_name"]: r["status"] for r in records} == e3
    assert "ERROR  a/except1: cannot push twice results for a" in proc.stdout, proc.stdout


def test_renamed_duplicates_follows_e3_testsuite_s_collection_order() -> None:
    from e3suite.compat.e3testsuite._bridge import PushedResult, renamed_duplicates

    first, second = PushedResult("t", "PASS", "1"), PushedResult("t", "FAIL", "2")
    error = PushedResult("t", "ERROR", "3")
    other = PushedResult("t.sub", "PASS", None)
    # One fragment: collected last pushed first; a second fragment's after.
    result = renamed_duplicates([[first, other, second], [error]])
    assert [(p.name, p.status, p.msg) for p in result] == [
        ("t__except1", "ERROR", "cannot push twice results for t"), ("t.sub", "PASS", None), ("t", "FAIL", "2"),
        ("t__except2", "ERROR", "3"),
    ]


STRING_SHELL_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver.classic import ClassicTestDriver


class Stringly(ClassicTestDriver):
    def run(self):
        self.shell("echo hi")


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"stringly": Stringly}
    default_driver = "stringly"


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


@pytest.mark.skipif(importlib.util.find_spec("e3.testsuite") is None, reason="e3-testsuite 27.x is in the test extra")
def test_shell_given_a_string_is_an_error_as_under_e3_testsuite(tmp_path: Path) -> None:
    """It ran its first letter ("e": FAIL, status 127); e3-testsuite raises (ERROR): the message says what to write."""
    script = _suite(tmp_path, STRING_SHELL_SUITE)
    real = subprocess.run([sys.executable, str(script), "-o", str(tmp_path / "e3-out")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    index = json.loads((tmp_path / "e3-out" / "new" / "_index.json").read_text())
    assert [e["status"] for e in index["entries"]] == ["ERROR"], real.stderr
    proc = _e3(script, "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ERROR  a: a.run_wrapper" in proc.stdout, proc.stdout  # e3-testsuite's name for it
    assert "takes the command as a list of arguments, not a string: 'echo hi'" in store.load_records(
        tmp_path / "out" / "new"
    )["a"]["log"]


def test_a_result_pushed_in_add_test_without_fragments_is_reported(tmp_path: Path) -> None:
    """What the docs tell: a SKIP decided in add_test (no fragment) is the testcase's verdict.

    e3-testsuite 27.3 loses it (it collects results when a fragment ends).
    """
    source = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver import TestDriver
from e3.testsuite.result import TestResult, TestStatus


class Early(TestDriver):
    def add_test(self, dag):
        if self.test_env.get("skip"):
            self.result.set_status(TestStatus.SKIP, "not today")
            self.push_result()
            return
        self.add_fragment(dag, "go")

    def go(self, previous, slot):
        self.result.set_status(TestStatus.PASS)
        self.push_result()


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"early": Early}
    default_driver = "early"


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''
    script = _suite(tmp_path, source, {"skipped": "skip: true\n", "runs": "{}\n"})
    proc = _e3(script, "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SKIP   skipped: not today" in proc.stdout and "PASS   runs" in proc.stdout, proc.stdout


def test_a_refusal_inside_a_fragment_is_the_message_of_its_error(tmp_path: Path) -> None:
    """shell(stdin=<what e3suite cannot feed>) is refused in the run fragment: the ERROR was named
    'a.run_wrapper' with no message, the refusal at the end of a traceback in its log."""
    source = SUITE.replace('self.shell(["sh", "-c", self.test_env.get("cmd", "true")])',
                           'self.shell(["cat"], stdin=12345)')
    script = _suite(tmp_path, source, {"a": "{}\n"})
    proc = _e3(script, "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ERROR  a: a.run_wrapper: shell(stdin=12345) is not supported by e3suite's e3-testsuite" in proc.stdout
