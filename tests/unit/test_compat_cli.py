"""e3-testsuite 27.x's command line and hooks, as an existing testsuite uses them under ``e3suite e3``.

Each test runs a small e3-style testsuite through ``e3suite e3`` and pins
what a user of that testsuite under e3-testsuite would see: its options
(short spellings included), the state ``set_up`` finds, its reports and
logs (what drivers do: test_compat_drivers.py).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
from compat_support import SUITE
from compat_support import make_suite as _suite
from compat_support import run_e3 as _e3


def test_dev_temp_has_its_short_option(tmp_path: Path) -> None:
    """``-d DIR`` is e3-testsuite's spelling of ``--dev-temp DIR``: working directories kept in DIR."""
    script = _suite(tmp_path)
    proc = _e3(script, "-d", str(tmp_path / "dev"), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    kept = list((tmp_path / "dev").glob("e3suite-*/a"))
    assert len(kept) == 1, proc.stdout + proc.stderr


SETTING_UP_SUITE = '''
import os, sys
from e3.testsuite import Testsuite
from e3.testsuite.driver.classic import ClassicTestDriver


class Shell(ClassicTestDriver):
    def run(self):
        self.shell(["test", "-f", os.path.join(self.env.shared_dir, "built")])


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"shell": Shell}
    default_driver = "shell"

    def set_up(self):
        # What AdaCore testsuites do: build once in the working directory,
        # note the run in the results directory.
        print("set_up:", os.path.isdir(self.working_dir), self.env.working_dir == self.working_dir,
              "run-notes.txt" in os.listdir(self.output_dir))
        self.env.shared_dir = os.path.join(self.working_dir, "shared")
        os.mkdir(self.env.shared_dir)
        open(os.path.join(self.env.shared_dir, "built"), "w").close()
        with open(os.path.join(self.output_dir, "run-notes.txt"), "w") as f:
            f.write("noted\\n")


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


def test_set_up_finds_the_working_dir_made_and_the_results_dir_fresh(tmp_path: Path) -> None:
    """As under e3-testsuite, set_up may build in ``self.working_dir`` and write in ``self.output_dir``."""
    script = _suite(tmp_path, SETTING_UP_SUITE)
    out = tmp_path / "out"
    for _ in range(2):
        proc = _e3(script, "-o", str(out), cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "set_up: True True False" in proc.stdout, proc.stdout  # the previous run's notes went to old
        assert "PASS   a" in proc.stdout, proc.stdout
        assert (out / "new" / "run-notes.txt").read_text() == "noted\n"
    assert (out / "old" / "run-notes.txt").is_file()  # the first run's, rotated with its results


def test_rotate_output_dirs_is_accepted_and_rotates(tmp_path: Path) -> None:
    """``--rotate-output-dirs`` asks for what e3suite always does: the previous DIR/new becomes DIR/old."""
    script = _suite(tmp_path)
    out = tmp_path / "out"
    for _ in range(2):
        proc = _e3(script, "-o", str(out), "--rotate-output-dirs", cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "old" / "index.json").is_file() and (out / "new" / "index.json").is_file()


XUNIT_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver.classic import ClassicTestDriver


class Shell(ClassicTestDriver):
    def run(self):
        if self.test_env.get("crash"):
            raise RuntimeError("boom")
        self.shell(["sh", "-c", self.test_env.get("cmd", "true")])


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"shell": Shell}
    default_driver = "shell"


if __name__ == "__main__":
    sys.exit(Suite(testsuite_name="my suite").testsuite_main())
'''


@pytest.mark.skipif(importlib.util.find_spec("e3.testsuite") is None, reason="e3-testsuite 27.x is in the test extra")
def test_xunit_output_names_testcases_as_e3_testsuite_does(tmp_path: Path) -> None:
    """Same suite and (classname, name) pairs as e3-testsuite's file: CI keeps each testcase's history."""
    tests = {"top": 'cmd: "true"\n', "sub/nested": 'cmd: "false"\n', "c": "crash: true\n"}
    script = _suite(tmp_path, XUNIT_SUITE, tests)

    def names(path: Path) -> tuple[str, list[tuple[str, str]]]:
        root = ElementTree.parse(path).getroot()
        suites = [root.get("name")] + [s.get("name") for s in root.iter("testsuite")]
        return "|".join(str(s) for s in suites), sorted(
            (str(c.get("classname")), str(c.get("name"))) for c in root.iter("testcase")
        )

    real = subprocess.run(
        [sys.executable, str(script), "-o", str(tmp_path / "e3-out"), "--xunit-output", str(tmp_path / "e3.xml")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert real.returncode == 1, real.stdout + real.stderr
    proc = _e3(script, "-o", str(tmp_path / "out"), "--xunit-output", str(tmp_path / "ours.xml"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert names(tmp_path / "ours.xml") == names(tmp_path / "e3.xml")
    assert names(tmp_path / "ours.xml")[1] == [("my suite", "c.run_wrapper"), ("my suite", "sub__nested"),
                                               ("my suite", "top")]


def test_a_test_yaml_pyyaml_cannot_scan_is_that_testcase_s_error(tmp_path: Path) -> None:
    """An unterminated string (a scanner error, which e3-core does not wrap) is an ERROR, not a crashed run."""
    script = _suite(tmp_path, tests={"ok": 'cmd: "true"\n', "unterminated": 'cmd: "true\n', "tab": "cmd:\t\"x\n"})
    proc = _e3(script, "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if not line.startswith(" ")]
    assert "PASS   ok" in lines, proc.stdout
    for name in ("unterminated", "tab"):
        assert any(line.startswith(f"ERROR  {name}: invalid syntax for test.yaml") for line in lines), proc.stdout


def test_a_case_key_on_an_unknown_variable_is_that_testcase_s_error(tmp_path: Path) -> None:
    """``case_nosuch:`` (no such variable in e3's Env) made e3-core raise KeyError: the whole run stopped.

    It stopped with a traceback and "the testsuite's set_up raised KeyError:
    'nosuch'" (e3-testsuite stops too): a test.yaml mistake is that
    testcase's ERROR, naming the key, as a syntax error is; so is a case
    on a number (TypeError) or a pattern that is no regexp (re.error).
    """
    script = _suite(tmp_path, tests={
        "ok": 'cmd: "true"\ncase_host_os_name:\n  linux:\n    cmd: "true"\n',
        "unknown": 'cmd: "true"\ncase_nosuch:\n  linux:\n    cmd: "false"\n',
        "number": 'cmd: "true"\ncase_host_os_name: 3\n',
        "bad_regexp": 'cmd: "true"\ncase_host_os_name:\n  "[":\n    cmd: "false"\n',
    })
    proc = _e3(script, "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if not line.startswith(" ")]
    assert "PASS   ok" in lines, proc.stdout
    unknown = tmp_path / "tests" / "unknown" / "test.yaml"
    message = f"invalid test.yaml: {unknown}: case_nosuch: no variable 'nosuch' in e3's Env (e3.env.Env().to_dict())"
    assert f"ERROR  unknown: {message}" in lines, proc.stdout
    for name in ("number", "bad_regexp"):
        prefix = f"ERROR  {name}: invalid test.yaml: {tmp_path / 'tests' / name / 'test.yaml'}: case_host_os_name: "
        assert any(line.startswith(prefix) for line in lines), proc.stdout


def test_a_test_yaml_that_is_not_utf8_is_that_testcase_s_error(tmp_path: Path) -> None:
    """A Latin-1 byte in a test.yaml stopped the whole run with UnicodeDecodeError (e3-testsuite too)."""
    script = _suite(tmp_path, tests={"ok": 'cmd: "true"\n', "latin1": "{}\n"})
    latin1 = tmp_path / "tests" / "latin1" / "test.yaml"
    latin1.write_bytes(b'cmd: "echo caf\xe9"\n')
    proc = _e3(script, "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if not line.startswith(" ")]
    assert "PASS   ok" in lines, proc.stdout
    assert f"ERROR  latin1: invalid test.yaml: {latin1}: not UTF-8 (invalid continuation byte at byte 14)" in lines


def test_a_symlink_loop_in_the_tests_directory_is_walked_once(tmp_path: Path) -> None:
    """A link back to a parent (tests/a/up -> ..) found each testcase again at every level.

    os.walk(followlinks=True) went down a/up/a/up/... until the kernel's
    symlink limit: 40 copies of each testcase (with two such links, a
    number of paths that doubles at each level: the run never started).
    e3-testsuite's safe_dir_walk enters a directory by a link once: a link
    to a directory already walked finds nothing more, a link to another
    one finds what it holds, under the link's name (as e3-testsuite does).
    """
    script = _suite(tmp_path, tests={"a": 'cmd: "true"\n', "b/c": 'cmd: "true"\n', "d": 'cmd: "true"\n'})
    (tmp_path / "tests" / "a" / "up").symlink_to("..")
    (tmp_path / "tests" / "d" / "linked_b").symlink_to("../b")
    proc = _e3(script, "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = sorted(line for line in proc.stdout.splitlines() if line.startswith("PASS"))
    assert lines == ["PASS   a", "PASS   b/c", "PASS   d", "PASS   d/linked_b/c"], proc.stdout


def test_a_testsuite_option_named_as_one_of_e3suite_s_wins(tmp_path: Path) -> None:
    """add_options defining --json (e3suite's own report option here, not e3-testsuite's) crashed.

    argparse raised "conflicting option string: --json" with a traceback:
    "resolve" was set on the parser after argparse had made its groups, and
    a testsuite's parser.add_argument goes to the "options" group, still
    "error". The testsuite's option wins, as under e3-testsuite (which has
    no --json): its value reaches main.args, no JSON report is written.
    """
    source = SUITE.replace('    default_driver = "shell"\n', '''    default_driver = "shell"

    def add_options(self, parser):
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--progress", type=int, default=3)

    def set_up(self):
        super().set_up()
        print("options:", self.main.args.json, self.main.args.progress)
''')
    script = _suite(tmp_path, source)
    proc = _e3(script, "-o", str(tmp_path / "out"), "--json", "--progress", "5", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "options: True 5" in proc.stdout, proc.stdout
    assert "PASS   a" in proc.stdout, proc.stdout


def test_a_bad_test_yaml_or_driver_name_says_where_and_which(tmp_path: Path) -> None:
    """The ERROR of a test.yaml names the line to fix, that of an unknown driver the name (no log holds it)."""
    script = _suite(tmp_path, tests={"flow": "driver: [shell\n", "typo": "driver: shel\n"})
    proc = _e3(script, "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    flow = tmp_path / "tests" / "flow" / "test.yaml"
    assert f"ERROR  flow: invalid syntax for test.yaml: {flow}:2:1: did not find expected ',' or ']'" in proc.stdout
    assert "ERROR  typo: cannot find driver: 'shel'" in proc.stdout, proc.stdout


def test_a_probing_error_of_a_testsuite_s_own_finder_keeps_its_message() -> None:
    from e3suite.compat.e3testsuite._plan import probing_message
    from e3suite.compat.e3testsuite.testcase_finder import ProbingError

    assert probing_message(ProbingError("two drivers named")) == "two drivers named"
    try:
        try:
            raise OSError(2, "No such file or directory", "/x/test.yaml")
        except OSError as exc:
            raise ProbingError("invalid syntax for test.yaml") from exc
    except ProbingError as exc:
        assert probing_message(exc) == "invalid syntax for test.yaml: /x/test.yaml: No such file or directory"


def test_a_default_driver_missing_from_the_map_is_an_error_of_each_testcase_using_it(tmp_path: Path) -> None:
    """A typo in default_driver: a clear ERROR (naming the known drivers), not a KeyError traceback."""
    script = _suite(tmp_path, SUITE.replace('default_driver = "shell"', 'default_driver = "shel"'),
                    {"uses_default": "{}\n", "names_its_own": "driver: shell\n"})
    proc = _e3(script, "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "ERROR  uses_default: default_driver 'shel' is not in test_driver_map (known: shell)" in proc.stdout
    assert "PASS   names_its_own" in proc.stdout, proc.stdout


STATUS_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver import TestDriver
from e3.testsuite.result import TestStatus


class Status(TestDriver):
    def add_test(self, dag):
        self.add_fragment(dag, "report")

    def report(self, previous, slot):
        status = self.test_env["status"]
        self.result.set_status(TestStatus[status], "as told")
        self.result.log += f"log of {status}\\n"
        self.push_result()


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"status": Status}
    default_driver = "status"


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


def test_show_error_output_shows_the_logs_e3_testsuite_shows(tmp_path: Path) -> None:
    """-E: the logs of every result but PASS, XFAIL, XPASS and SKIP (a VERIFY's is what is to be verified)."""
    statuses = ["PASS", "FAIL", "XFAIL", "XPASS", "VERIFY", "SKIP", "NOT_APPLICABLE", "ERROR"]
    script = _suite(tmp_path, STATUS_SUITE, {s.lower(): f"status: {s}\n" for s in statuses})
    proc = _e3(script, "-o", str(tmp_path / "out"), "-E", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    shown = sorted(s for s in statuses if f"    | log of {s}" in proc.stdout)
    assert shown == ["ERROR", "FAIL", "NOT_APPLICABLE", "VERIFY"], proc.stdout


def test_list_json_runs_set_up_with_a_working_dir(tmp_path: Path) -> None:
    """--list-json calls set_up first, as e3-testsuite does: it finds the working directory made."""
    script = _suite(tmp_path, SETTING_UP_SUITE)
    listing = tmp_path / "list.json"
    temp = tmp_path / "temp"
    proc = _e3(script, "-o", str(tmp_path / "out"), "-t", str(temp), "--list-json", str(listing), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "set_up: True True False" in proc.stdout, proc.stdout
    assert [t["test_name"] for t in json.loads(listing.read_text())] == ["a"]
    assert list(temp.iterdir()) == [] and not (tmp_path / "out").exists()  # a listing leaves nothing behind


def test_at_a_terminal_failing_logs_are_shown_without_e(tmp_path: Path) -> None:
    """e3-testsuite implies -E when stdout and stderr are a terminal (and no --log-file)."""
    script = _suite(tmp_path, tests={"broken": 'cmd: "echo the-log-line; exit 3"\n'})
    for extra, shown in (([], True), (["--log-file", str(tmp_path / "log")], False)):
        primary, secondary = pty.openpty()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "e3suite", "e3", str(script), "-o", str(tmp_path / "out"), *extra],
                cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary, timeout=300,
            )
            os.close(secondary)
            output = b""
            with contextlib.suppress(OSError):  # EIO once the terminal's writer is gone
                while chunk := os.read(primary, 65536):
                    output += chunk
        finally:
            os.close(primary)
        text = output.decode(errors="replace")
        assert proc.returncode == 1, text
        assert "FAIL   broken: non-zero status code" in text, text
        assert ("the-log-line" in text) == shown, text


def test_an_old_output_dir_without_e3suite_results_is_ignored_with_a_warning(tmp_path: Path) -> None:
    """e3-testsuite ignores a missing or empty --old-output-dir (a CI job's first run): the run goes on."""
    script = _suite(tmp_path)
    not_results = tmp_path / "e3-testsuite-results"
    not_results.mkdir()
    (not_results / "_index.json").write_text("{}")
    for old in (tmp_path / "missing", not_results):
        proc = _e3(script, "-o", str(tmp_path / "out"), "--old-output-dir", str(old), cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "PASS   a" in proc.stdout
        assert f"e3suite: warning: --old-output-dir: {old} is not" in proc.stderr, proc.stderr
    proc = _e3(script, "-o", str(tmp_path / "again"), "--old-output-dir", str(tmp_path / "out" / "new"), cwd=tmp_path)
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stdout + proc.stderr


@pytest.mark.skipif(importlib.util.find_spec("e3.testsuite") is None, reason="e3-testsuite 27.x is in the test extra")
def test_log_file_holds_the_result_lines_as_under_e3_testsuite(tmp_path: Path) -> None:
    """--log-file: e3-testsuite logs each result there (the CI artifact people read); so does e3suite."""
    script = _suite(tmp_path, tests={"a": 'cmd: "true"\n', "sub/b": 'cmd: "false"\n'})

    def result_lines(log: Path) -> list[str]:
        lines = [line.split(": INFO     ", 1)[1] for line in log.read_text().splitlines() if ": INFO     " in line]
        return sorted(line for line in lines if line.split()[0] in ("PASS", "FAIL"))

    real = [sys.executable, str(script), "-o", str(tmp_path / "e3-out"), "--log-file", str(tmp_path / "e3.log")]
    subprocess.run(real, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    proc = _e3(script, "-o", str(tmp_path / "out"), "--log-file", str(tmp_path / "ours.log"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert result_lines(tmp_path / "ours.log") == result_lines(tmp_path / "e3.log") == [
        "FAIL            sub__b: non-zero status code", "PASS            a",
    ]
    assert proc.stdout.count("PASS   a") == 1  # the terminal has e3suite's line only


def test_sys_exit_with_a_message_in_set_up_prints_it_and_exits_1(tmp_path: Path) -> None:
    """What Python (and so e3-testsuite) does with sys.exit("gnat not found"): the message, status 1."""
    source = SUITE.replace('''    default_driver = "shell"
''', '''    default_driver = "shell"

    def set_up(self):
        sys.exit("gnat not found on PATH")
''')
    proc = _e3(_suite(tmp_path, source), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 1
    assert "gnat not found on PATH" in proc.stderr, proc.stdout + proc.stderr


def test_auto_generate_text_report_writes_the_report_file(tmp_path: Path) -> None:
    """A testsuite with auto_generate_text_report runs (it was refused) and gets DIR/new/report."""
    source = SUITE.replace('''    default_driver = "shell"
''', '''    default_driver = "shell"
    auto_generate_text_report = True
''')
    script = _suite(tmp_path, source, {"good": 'cmd: "true"\n', "bad": 'cmd: "echo the-log-line; exit 3"\n'})
    proc = _e3(script, "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = (tmp_path / "out" / "new" / "report").read_text()
    assert "PASS   good" in report and "FAIL   bad: non-zero status code" in report
    assert "    | the-log-line" in report  # the log of what is to be looked at
    assert report.endswith("e3suite: 1 passed, 1 failed, 0 skipped\n"), report
    proc = _e3(script, "-o", str(tmp_path / "out2"), "--no-generate-text-report", cwd=tmp_path)
    assert proc.returncode == 1 and not (tmp_path / "out2" / "new" / "report").exists()


def test_an_overridden_get_test_list_chooses_the_testcases(tmp_path: Path) -> None:
    """Testsuites override e3-testsuite's get_test_list to filter what the finders found."""
    source = SUITE.replace('''    default_driver = "shell"
''', '''    default_driver = "shell"

    def get_test_list(self, sublist):
        return [t for t in super().get_test_list(sublist) if not t.test_name.startswith("slow")]
''')
    script = _suite(tmp_path, source, {"quick": 'cmd: "true"\n', "slow_one": 'cmd: "true"\n', "bad": "[\n"})
    proc = _e3(script, "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "PASS   quick" in proc.stdout and "slow_one" not in proc.stdout, proc.stdout
    assert "ERROR  bad: invalid syntax for test.yaml" in proc.stdout  # what the finders could not probe
    listing = tmp_path / "list.json"
    proc = _e3(script, "-o", str(tmp_path / "out"), "--list-json", str(listing), cwd=tmp_path)
    assert [t["test_name"] for t in json.loads(listing.read_text())] == ["quick"], proc.stderr


def test_ctrl_c_in_set_up_is_an_interrupted_run(tmp_path: Path) -> None:
    """Under e3suite e3 the index said interrupted: false (exit 130 all the same).

    As in e3-testsuite, the testcases are listed after set_up: there are none to skip yet.
    """
    import json
    import signal
    import subprocess
    import sys
    import time

    source = SUITE.replace(
        '    default_driver = "shell"\n',
        '    default_driver = "shell"\n\n    def set_up(self):\n'
        '        open(os.path.join(os.environ["MARK_DIR"], "in-set-up"), "w").close()\n'
        '        import time; time.sleep(60)\n',
    )
    script = _suite(tmp_path, source, {"a": 'cmd: "true"\n', "b": 'cmd: "true"\n'})
    env = {**os.environ, "MARK_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "e3suite", "e3", str(script)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "in-set-up").exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    index = json.loads((tmp_path / "out" / "new" / "index.json").read_text())
    assert index["run"]["interrupted"] is True and index["results"] == []


def test_e3_without_a_script_names_only_the_script_as_missing() -> None:
    run = subprocess.run([sys.executable, "-m", "e3suite", "e3"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.splitlines()[-1] == "e3suite e3: error: the following arguments are required: TESTSUITE.py"


SHARED_STATE_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver.classic import ClassicTestDriver

SEEN = []


class Collect(ClassicTestDriver):
    def run(self):
        self.shell(["true"])
        SEEN.append(self.test_name)
        self.env.collected.append(self.test_name)


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"collect": Collect}
    default_driver = "collect"

    def set_up(self):
        super().set_up()
        self.env.collected = []

    def tear_down(self):
        print("seen:", sorted(SEEN), "collected:", sorted(self.env.collected))
        super().tear_down()


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


def test_state_a_fragment_shares_reaches_tear_down_with_in_process_only(tmp_path: Path) -> None:
    """What the docs tell (Where fragments run): a single-fragment testcase runs in a worker.

    What its run() changes besides its results (a module global, an
    attribute of the testsuite's env) stays in the worker, so the
    testsuite's tear_down does not see it, where e3-testsuite's threads
    share it; --in-process runs every fragment in threads, as e3-testsuite.
    """
    script = _suite(tmp_path, SHARED_STATE_SUITE, {"a": "{}\n", "b": "{}\n"})
    proc = _e3(script, "-o", str(tmp_path / "out"), "-j2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "seen: [] collected: []" in proc.stdout, proc.stdout
    proc = _e3(script, "-o", str(tmp_path / "out"), "-j2", "--in-process", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "seen: ['a', 'b'] collected: ['a', 'b']" in proc.stdout, proc.stdout


def test_an_exception_of_add_test_is_one_line_that_says_where(tmp_path: Path) -> None:
    """e3-core's DAGError ends its message with a newline: the ERROR line showed a literal '\\\\n'.

    (A cross-testcase predecessor added before its testcase's add_test ran:
    "predecessor on non existing vertices lib.check\\n".) The message is one
    line, with its words, then where add_test raised.
    """
    source = SUITE.replace("class Suite(Testsuite):", '''class Broken(ClassicTestDriver):
    def add_test(self, dag):
        raise ValueError("first line\\n  second line\\n")


class Suite(Testsuite):''').replace('{"shell": Shell}', '{"shell": Shell, "broken": Broken}')
    script = _suite(tmp_path, source, {"b": "driver: broken\n"})
    proc = _e3(script, "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith("ERROR  b:"))
    assert line.startswith("ERROR  b: ValueError: first line second line (in add_test, testsuite.py:"), line


THREADS_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver import TestDriver
from e3.testsuite.result import TestStatus


class TwoSteps(TestDriver):
    def add_test(self, dag):
        self.add_fragment(dag, "first")
        self.add_fragment(dag, "second", after=["first"])

    def first(self, previous, slot):
        if self.test_env.get("interrupt"):
            raise KeyboardInterrupt
        return 1

    def second(self, previous, slot):
        self.result.set_status(TestStatus.PASS if previous["first"] == 1 else TestStatus.FAIL)
        self.push_result()


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"two": TwoSteps}
    default_driver = "two"


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


def test_a_fragment_raising_keyboardinterrupt_in_a_thread_is_its_error(tmp_path: Path) -> None:
    """Fragments sharing driver state run in threads: one raising KeyboardInterrupt hung the run.

    run_fragment lets KeyboardInterrupt through, as the user's Ctrl-C; in a
    slot's thread it is not one (signals reach the main thread only): the
    thread died with it, its outcome never came, and the engine waited for
    ever. It is that fragment's ERROR, as in a worker process; its
    dependants get its exception, and the other testcases run.
    """
    script = _suite(tmp_path, THREADS_SUITE, {"interrupts": "interrupt: true\n", "fine": "{}\n"})
    proc = subprocess.run(
        [sys.executable, "-m", "e3suite", "e3", str(script), "-j2", "-o", str(tmp_path / "out")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "PASS   fine" in proc.stdout, proc.stdout
    assert "ERROR  interrupts/first" in proc.stdout or "ERROR  interrupts: " in proc.stdout, proc.stdout
    assert "raised KeyboardInterrupt" in proc.stdout + (tmp_path / "out" / "new" / "journal.jsonl").read_text()
