"""Real e3-testsuite testsuites run by e3-testsuite 27.x and by ``e3suite e3``, side by side.

Each test writes a small testsuite as a user of e3-testsuite would, runs it
under both, and compares what the user sees: verdicts, messages, what
``-E`` prints, exit codes; and that nothing either run started is left.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from compat_support import MARK, SUITE, e3_log, e3_verdicts, leftovers, make_suite, run_both

import e3suite.store as store

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("e3.testsuite") is None, reason="e3-testsuite 27.x is in the test extra"
)

DIFF_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver.diff import DiffTestDriver


class Echo(DiffTestDriver):
    def run(self):
        self.shell(["sh", "-c", self.test_env["cmd"]])


class TwoDiffs(DiffTestDriver):
    """Checks two outputs: two diffs in one result."""

    def run(self):
        self.shell(["true"])

    def compute_failures(self):
        return (self.compute_diff(None, "uno\\n", "one\\n", "first")
                + self.compute_diff(None, "dos\\n", "two\\n", "second"))


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"echo": Echo, "two": TwoDiffs}
    default_driver = "echo"


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


def _records(out: Path) -> dict:
    return store.load_records(out / "new")


def _diff_suite(tmp_path: Path) -> Path:
    script = make_suite(tmp_path, DIFF_SUITE, {"long": "cmd: seq 1 6\n", "two": "driver: two\n"})
    (tmp_path / "tests" / "long" / "test.out").write_text("1\n2\n3\nfour\n5\n6\n")
    return script


@pytest.mark.parametrize("truncate", [[], ["-T", "1"]])
def test_error_output_shows_each_diff_once_as_e3_testsuite_does(tmp_path: Path, truncate: list[str]) -> None:
    """-E printed a diff cut by -T, then whole; two diffs of one result each twice (with or without -T);
    the HTML report, every diff twice (in the log, and as the diff)."""
    script = _diff_suite(tmp_path)
    mark = uuid.uuid4().hex
    real, ours = run_both(script, "-E", *truncate, cwd=tmp_path, mark=mark)
    assert e3_verdicts(tmp_path / "e3-out") == {"long": "FAIL", "two": "FAIL"}, real.stderr
    html = tmp_path / "report.html"
    assert real.returncode == ours.returncode == 1, ours.stdout + ours.stderr
    for line, count in (("+four", 0), ("-four", 1), ("+4", 1), ("-uno", 1), ("+one", 1), ("-dos", 1), ("+two", 1)):
        assert real.stderr.count(f"\n{line}\n") == count, real.stderr
        assert ours.stdout.count(f"| {line}\n") == count, ours.stdout
    assert "FAIL   long: unexpected output\n" in ours.stdout
    assert "FAIL   two: first | second\n" in ours.stdout
    # The record keeps the whole diff apart; its log, what the command did.
    record = _records(tmp_path / "out")["long"]
    assert "-four\n+4" in record["diff"]
    assert "Running: sh -c 'seq 1 6'" in record["log"] and "Diff failure" not in record["log"]
    # `e3suite report -E` prints the run again: each diff once there too, and in the HTML report.
    again = subprocess.run([sys.executable, "-m", "e3suite", "report", str(tmp_path / "out" / "new"), "-E",
                            "--no-compare", "--html", str(html)], capture_output=True, text=True, timeout=120)
    assert again.stdout.count("| -four\n") == 1 and again.stdout.count("| -dos\n") == 1, again.stdout
    assert html.read_text().count("Diff failure: unexpected output") == 1
    assert leftovers(mark) == []


TIMEOUT_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver.classic import ClassicTestDriver


class Shell(ClassicTestDriver):
    def run(self):
        timeout = self.test_env.get("shell_timeout")
        self.shell(["sh", "-c", self.test_env["cmd"]], timeout=timeout)


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"shell": Shell}
    default_driver = "shell"


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


def test_a_timeout_that_is_not_a_number_is_an_error_as_under_e3_testsuite(tmp_path: Path) -> None:
    """`timeout: "5"` ran with a 5 s timeout (a PASS), where e3's Run raises a TypeError (an ERROR).

    Under e3suite it is the same ERROR, whose message names the file and
    the key (so is `.inf`, an OverflowError there); `timeout: null` is no
    timeout, as e3's Run has none then (it was an ERROR); a negative one
    is rlimit's usage and status 1 (it was status 2, "timed out").
    """
    script = make_suite(tmp_path, TIMEOUT_SUITE, {
        "quoted": 'cmd: "echo done"\ntimeout: "5"\n',
        "listed": 'cmd: "echo done"\ntimeout: [5]\n',
        "null": 'cmd: "echo done"\ntimeout: null\n',
        "number": 'cmd: "echo done"\ntimeout: 5\n',
        "by_driver": 'cmd: "echo done"\nshell_timeout: "5"\n',
        "infinite": 'cmd: "echo done"\ntimeout: .inf\n',
        "negative": 'cmd: "echo done"\ntimeout: -1\n',
    })
    mark = uuid.uuid4().hex
    real, ours = run_both(script, cwd=tmp_path, mark=mark)
    e3 = e3_verdicts(tmp_path / "e3-out")
    assert e3 == {"quoted.run_wrapper": "ERROR", "listed.run_wrapper": "ERROR", "null": "PASS", "number": "PASS",
                  "by_driver.run_wrapper": "ERROR", "infinite.run_wrapper": "ERROR", "negative": "FAIL"}, real.stderr
    # rlimit refuses a negative timeout: its usage, status 1, the command not run.
    usage = "Status code: 1\nOutput: \nUsage:\n   rlimit [--foreground] seconds command [args]\n"
    assert usage in e3_log(tmp_path / "e3-out", "negative")
    assert real.returncode == ours.returncode == 1, ours.stdout + ours.stderr
    records = store.load_records(tmp_path / "out" / "new")
    assert {r["info"]["e3_name"]: r["status"] for r in records.values()} == e3
    quoted = tmp_path / "tests" / "quoted" / "test.yaml"
    listed = tmp_path / "tests" / "listed" / "test.yaml"
    assert (f"ERROR  quoted: quoted.run_wrapper: invalid test.yaml: {quoted}: timeout: '5' is a string, "
            "not a number of seconds (write timeout: 5, without quotes)\n") in ours.stdout, ours.stdout
    assert (f"ERROR  listed: listed.run_wrapper: invalid test.yaml: {listed}: timeout: [5] is a list, "
            "not a number of seconds\n") in ours.stdout, ours.stdout
    assert ("ERROR  by_driver: by_driver.run_wrapper: invalid timeout: '5' is a string, "
            "not a number of seconds\n") in ours.stdout, ours.stdout
    infinite = tmp_path / "tests" / "infinite" / "test.yaml"
    assert (f"ERROR  infinite: infinite.run_wrapper: invalid test.yaml: {infinite}: timeout: inf "
            "is not a finite number of seconds\n") in ours.stdout, ours.stdout
    assert "FAIL   negative: non-zero status code\n" in ours.stdout
    negative = records["negative"]["log"]
    assert usage in negative
    assert "\ndone" not in negative
    assert "Traceback" not in ours.stdout  # the message says it; the log keeps the traceback
    assert "InvalidTimeout: invalid test.yaml" in records["quoted"]["log"]
    assert leftovers(mark) == []


def test_dev_temp_keeps_the_last_run_s_working_directories_only(tmp_path: Path) -> None:
    """`-d DIR` twice left two copies of every working directory in DIR, one more at each run, for ever.

    e3-testsuite empties DIR first; e3suite removes its own previous working
    roots there (`e3suite-*`), and nothing else.
    """
    script = make_suite(tmp_path, tests={"a": 'cmd: "echo a > made.txt"\n'})
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "notes.txt").write_text("mine\n")
    mark = uuid.uuid4().hex
    env = dict(os.environ, **{MARK: mark})
    for _ in range(2):
        real = subprocess.run([sys.executable, str(script), "-d", str(tmp_path / "e3-dev"), "-o", "e3-out"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
        assert real.returncode == 0, real.stderr
        ours = subprocess.run([sys.executable, "-m", "e3suite", "e3", str(script), "-d", str(dev), "-o", "out"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
        assert ours.returncode == 0, ours.stdout + ours.stderr
    assert (tmp_path / "e3-dev" / "a" / "made.txt").exists()  # e3-testsuite: the last run's, in DIR itself
    kept = sorted(dev.glob("e3suite-*"))
    assert len(kept) == 1, kept
    assert (kept[0] / "a" / "made.txt").read_text() == "a\n"
    assert f"e3suite: working directories kept in {kept[0]}\n" in ours.stderr
    assert (dev / "notes.txt").read_text() == "mine\n"  # not ours: left alone
    assert leftovers(mark) == []


def _logged_results(log_file: Path) -> dict[str, str]:
    """The result lines of a --log-file and what follows each one, the run's paths left out.

    ``{"FAIL diff1: unexpected output": "Diff failure: ..."}``
    """
    found: dict[str, str] = {}
    current: list[str] | None = None
    for line in log_file.read_text().splitlines():
        if re.match(r"\d{4}-\d\d-\d\d ", line):
            current = None
            head = re.match(r".*: testsuite +: INFO +(PASS|FAIL|ERROR|XFAIL|XPASS|SKIP) +(.*)", line)
            if head:
                current = found.setdefault(f"{head[1]} {head[2]}", [])  # type: ignore[arg-type]
        elif current is not None:
            current.append(re.sub(r"\(cwd=.*\)", "(cwd=WD)", line))
    return {k: "\n".join(v).strip("\n") for k, v in found.items()}  # type: ignore[misc]


def test_the_log_file_holds_the_error_output_of_failures_as_under_e3_testsuite(tmp_path: Path) -> None:
    """With --log-file and -E, e3-testsuite logs each failure's diff (or log) under its line.

    e3suite logged the line only.
    """
    script = make_suite(tmp_path, DIFF_SUITE.replace('self.shell(["true"])', 'self.shell(["sh", "-c", "exit 3"])'),
                        {"long": "cmd: seq 1 6\n", "ok": "cmd: echo ok\n", "two": "driver: two\n"})
    (tmp_path / "tests" / "long" / "test.out").write_text("1\n2\n3\nfour\n5\n6\n")
    (tmp_path / "tests" / "ok" / "test.out").write_text("ok\n")
    mark = uuid.uuid4().hex
    real, ours = run_both(script, "-E", cwd=tmp_path, mark=mark, log_file="run.log")
    assert real.returncode == ours.returncode == 1, ours.stdout + ours.stderr
    e3, logged = _logged_results(tmp_path / "e3-out" / "run.log"), _logged_results(tmp_path / "out" / "run.log")
    assert e3 == logged, (e3, logged)
    assert logged["FAIL long: unexpected output"].startswith("Diff failure: unexpected output\n--- expected")
    assert logged["FAIL two: non-zero status code"].startswith("Running: sh -c 'exit 3' (cwd=WD)\nStatus code: 3")
    assert logged["PASS ok"] == ""
    assert leftovers(mark) == []


RAISING_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver import TestDriver
from e3.testsuite.driver.classic import ClassicTestDriver


class Build(TestDriver):
    def add_test(self, dag):
        self.add_fragment(dag, "build")

    def build(self, previous, slot):
        raise RuntimeError("build broke\\nsecond line of the message")


class Check(ClassicTestDriver):
    def run(self):
        {}["missing"]


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"build": Build, "check": Check}


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


def test_a_fragment_that_raises_says_why_on_its_error_line(tmp_path: Path) -> None:
    """`ERROR  lib: lib.build` said nothing of why, on the terminal, in the failure list and in JUnit.

    e3-testsuite's ERROR has no message (its -E log has the traceback); the
    e3suite result's message is now the exception's first line.
    """
    script = make_suite(tmp_path, RAISING_SUITE, {"lib": "driver: build\n", "check": "driver: check\n"})
    mark = uuid.uuid4().hex
    real, ours = run_both(script, "--xunit-output", "junit.xml", cwd=tmp_path, mark=mark)
    assert e3_verdicts(tmp_path / "e3-out") == {"lib.build": "ERROR", "check.run_wrapper": "ERROR"}, real.stderr
    assert real.returncode == ours.returncode == 1, ours.stdout + ours.stderr
    assert "ERROR  lib: lib.build: RuntimeError: build broke\n" in ours.stdout, ours.stdout
    assert "ERROR  check: check.run_wrapper: KeyError: 'missing'\n" in ours.stdout, ours.stdout
    assert "  ERROR  lib: lib.build: RuntimeError: build broke\n" in ours.stdout  # the failure list
    junit = (tmp_path / "junit.xml").read_text()
    assert 'message="RuntimeError: build broke"' in junit, junit  # its name is the testcase's already
    assert "second line of the message" in store.load_records(tmp_path / "out" / "new")["lib"]["log"]
    assert leftovers(mark) == []


def test_list_json_says_which_testcases_it_cannot_list(tmp_path: Path) -> None:
    """--list-json left a broken test.yaml out of the list without a word; e3-testsuite logs an ERROR for it."""
    tests = {"good": "cmd: echo ok\n", "broken": "[1, 2]\n", "nodriver": "driver: nosuch\n"}
    script = make_suite(tmp_path, tests=tests)
    mark = uuid.uuid4().hex
    real, ours = run_both(script, "--list-json", "list.json", cwd=tmp_path, mark=mark)
    assert real.returncode == ours.returncode == 0, ours.stdout + ours.stderr
    assert "ERROR           broken: invalid format for test.yaml" in real.stderr
    assert [t["test_name"] for t in json.loads((tmp_path / "list.json").read_text())] == ["good"]
    assert ours.stderr.splitlines() == [
        "e3suite: warning: broken is not listed: invalid format for test.yaml",
        "e3suite: warning: nodriver is not listed: cannot find driver: 'nosuch'",
    ], ours.stderr
    assert leftovers(mark) == []


def test_a_tests_directory_that_does_not_exist_is_said(tmp_path: Path) -> None:
    """A misspelt tests_subdir ran nothing, "no testcase", as a suite without testcases would.

    e3-testsuite says nothing either (exit 0, as here).
    """
    script = make_suite(tmp_path, SUITE.replace('tests_subdir = "tests"', 'tests_subdir = "tset"'))
    mark = uuid.uuid4().hex
    real, ours = run_both(script, cwd=tmp_path, mark=mark)
    assert real.returncode == ours.returncode == 0, ours.stdout + ours.stderr
    assert "Found 0 tests" in real.stderr
    assert ours.stderr == (f"e3suite: warning: the tests directory {tmp_path / 'tset'} does not exist "
                           "(tests_subdir = 'tset'): no testcase\n"), ours.stderr
    assert "e3suite: no testcase\n" in ours.stdout
    assert leftovers(mark) == []


def test_xunit_output_is_written_beside_junit(tmp_path: Path) -> None:
    """--xunit-output A --junit B wrote B only: the CI's A, which e3-testsuite writes, was missing."""
    script = make_suite(tmp_path, tests={"ok": 'cmd: "true"\n', "ko": 'cmd: "false"\n'})
    mark = uuid.uuid4().hex
    env = dict(os.environ, **{MARK: mark})
    ours = subprocess.run([sys.executable, "-m", "e3suite", "e3", str(script), "-o", "out", "-t", str(tmp_path),
                           "--xunit-output", "xunit.xml", "--junit", "junit.xml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert ours.returncode == 1, ours.stdout + ours.stderr
    xunit, junit = (tmp_path / "xunit.xml").read_text(), (tmp_path / "junit.xml").read_text()
    assert xunit == junit
    assert 'name="ko"' in xunit and 'name="ok"' in xunit
    assert leftovers(mark) == []


TWICE_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver import TestDriver
from e3.testsuite.result import TestStatus


class Twice(TestDriver):
    def add_test(self, dag):
        self.add_fragment(dag, "run")

    def run(self, previous, slot):
        self.result.set_status(TestStatus.PASS)
        self.push_result()  # the first push
        self.push_result()  # the second push, a bug


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"twice": Twice}
    default_driver = "twice"


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


def test_a_result_pushed_twice_says_where_each_push_was(tmp_path: Path) -> None:
    """The ERROR "cannot push twice results for t" had an empty log; e3-testsuite's says where both pushes were.

    e3suite's says it too, and which push is which.
    """
    script = make_suite(tmp_path, TWICE_SUITE, {"t": "{}\n"})
    mark = uuid.uuid4().hex
    real, ours = run_both(script, cwd=tmp_path, mark=mark)
    assert e3_verdicts(tmp_path / "e3-out") == {"t": "PASS", "t__except1": "ERROR"}, real.stderr
    assert real.returncode == ours.returncode == 1, ours.stdout + ours.stderr
    assert "ERROR  t/except1: cannot push twice results for t\n" in ours.stdout
    log = store.load_records(tmp_path / "out" / "new")["t/except1"]["log"]
    kept, renamed = log.split("\nthis one, renamed t__except1, was pushed at:\n")
    assert kept.startswith("t was pushed twice; the result that keeps the name t was pushed at:\n"), log
    lines = script.read_text().splitlines()
    first, second = (lines.index(f"        self.push_result()  # {what}") + 1 for what in ("the first push",
                                                                                       "the second push, a bug"))
    # e3-testsuite collects the last push first: that one keeps the name.
    assert f'File "{script}", line {second}, in run\n      self.push_result()  # the second push, a bug\n' in kept
    assert f'File "{script}", line {first}, in run\n      self.push_result()  # the first push\n' in renamed
    assert leftovers(mark) == []


def test_a_testcase_named_twice_on_the_command_line_runs_once(tmp_path: Path) -> None:
    """`a tests/a` gave ERROR a, ERROR a~ "duplicate test name: a" and the verdict as a~~.

    e3-testsuite runs it once too, but reports two ERRORs "duplicate test name"
    and one "cannot push twice"; e3suite now runs it once and reports it once.
    """
    script = make_suite(tmp_path, tests={"a": 'cmd: "true"\n', "b": "driver: nosuch\n"})
    mark = uuid.uuid4().hex
    real, ours = run_both(script, "a", "tests/a", "a", "b", "tests/b", cwd=tmp_path, mark=mark)
    assert "ERROR           a: duplicate test name: a" in real.stderr
    assert ours.returncode == 1, ours.stdout + ours.stderr
    assert sorted(store.load_records(tmp_path / "out" / "new")) == ["a", "b"]
    assert "PASS   a\n" in ours.stdout
    assert ours.stdout.splitlines().count("ERROR  b: cannot find driver: 'nosuch'") == 1, ours.stdout
    assert "duplicate" not in ours.stdout
    assert leftovers(mark) == []


def test_no_empty_working_root_is_kept_for_failures_that_made_no_directory(tmp_path: Path) -> None:
    """A run whose failures never started (an unknown driver) kept an empty working root, and said so."""
    script = make_suite(tmp_path, tests={"ok": 'cmd: "true"\n', "bad": "driver: nosuch\n"})
    temp = tmp_path / "temp"
    temp.mkdir()
    mark = uuid.uuid4().hex
    env = dict(os.environ, **{MARK: mark})
    ours = subprocess.run([sys.executable, "-m", "e3suite", "e3", str(script), "-o", "out", "-t", str(temp)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert ours.returncode == 1, ours.stdout + ours.stderr
    assert "ERROR  bad: cannot find driver: 'nosuch'\n" in ours.stdout
    assert list(temp.iterdir()) == []
    assert "kept" not in ours.stderr, ours.stderr
    # A failure that ran keeps its directory, as before.
    (tmp_path / "tests" / "ok" / "test.yaml").write_text('cmd: "false"\n')
    ours = subprocess.run([sys.executable, "-m", "e3suite", "e3", str(script), "-o", "out", "-t", str(temp)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    kept = list(temp.glob("e3suite-*/ok"))
    assert len(kept) == 1, (ours.stdout, ours.stderr)
    assert f"e3suite: working directories of failing testcases kept in {kept[0].parent}\n" in ours.stderr
    assert leftovers(mark) == []


INDEX_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver import TestDriver
from e3.testsuite.result import TestResult, TestStatus


class Checks(TestDriver):
    def add_test(self, dag):
        self.add_fragment(dag, "run")

    def run(self, previous, slot):
        for name, status in (("one", TestStatus.PASS), ("two", TestStatus.FAIL)):
            result = TestResult(f"{self.test_name}.{name}", env=self.test_env)
            result.set_status(status, f"check {name}")
            self.push_result(result)


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"checks": Checks}
    default_driver = "checks"

    def tear_down(self):
        for name, entry in sorted(self.report_index.entries.items()):
            print(f"report: {name} {entry.status.name} {entry.msg}")


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


def test_tear_down_and_the_log_file_read_e3_testsuite_s_messages(tmp_path: Path) -> None:
    """report_index's msg of a result not named after its testcase was e3suite's line, "t.two: check two";
    the --log-file line said "t.two: t.two: check two"."""
    script = make_suite(tmp_path, INDEX_SUITE, {"t": "{}\n"})
    mark = uuid.uuid4().hex
    real, ours = run_both(script, cwd=tmp_path, mark=mark, log_file="run.log")
    assert real.returncode == ours.returncode == 1, ours.stdout + ours.stderr
    expected = ["report: t.one PASS check one", "report: t.two FAIL check two"]
    assert [line for line in real.stdout.splitlines() if line.startswith("report: ")] == expected
    assert [line for line in ours.stdout.splitlines() if line.startswith("report: ")] == expected, ours.stdout
    assert "FAIL   t: t.two: check two\n" in ours.stdout  # e3suite's own line still names it
    e3, logged = _logged_results(tmp_path / "e3-out" / "run.log"), _logged_results(tmp_path / "out" / "run.log")
    assert e3 == logged == {"PASS t.one: check one": "", "FAIL t.two: check two": ""}, (e3, logged)
    assert leftovers(mark) == []
