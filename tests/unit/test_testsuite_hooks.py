"""The overridable steps of Testsuite apply to every testcase of the run."""

from __future__ import annotations

from pathlib import Path

import pytest
from drivers_support import make_suite, run_e3suite, run_suite

SUITE = '''
import sys
from e3suite import Testsuite, TestDriver, TestStatus

class Report(TestDriver):
    def add_fragments(self):
        self.add_fragment("build", self.build, after=self.test_env.get("after", []))

    def build(self, ctx):
        ctx.result.set_status(TestStatus.PASS, f"flag={self.test_env.get('flag')}")

class Suite(Testsuite):
    test_driver_map = {"report": Report}

    def load_testcases(self, dir_id, test_dir):
        cases = super().load_testcases(dir_id, test_dir)
        for case in cases:
            case.test_env = {**case.test_env, "flag": "set"}
        return cases

if __name__ == "__main__":
    sys.exit(Suite().main())
'''


def test_an_override_of_load_testcases_reads_the_dependencies_outside_the_selection_too(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        "tests/lib/test.yaml": "driver: report\n",
        "tests/m/test.yaml": "driver: report\nmatrix: {v: [a, b], w: [x]}\n",
        "tests/user/test.yaml": "driver: report\nafter: ['lib:build', 'm[v=b,w=x]:build']\n",
    }
    root = make_suite(tmp_path, files, SUITE)
    run = run_suite(root, "-j1", "user")
    assert run.code == 0, run.stderr
    assert {test_id: record["message"] for test_id, record in run.results.items()} == {
        "lib": "flag=set", "m[v=b,w=x]": "flag=set", "user": "flag=set",
    }


@pytest.mark.parametrize("overridden", [False, True])
def test_dependencies_read_by_an_override_fail_as_by_default(tmp_path: Path, overridden: bool) -> None:
    """A missing variant, a variant named in another axis order, a whole matrix: the same verdicts."""
    files: dict[str, str | bytes] = {
        "tests/m/test.yaml": "driver: report\nmatrix: {v: [a], w: [x]}\n",
        "tests/u1/test.yaml": "driver: report\nafter: ['m[v=c,w=x]:build']\n",
        "tests/u2/test.yaml": "driver: report\nafter: ['m[w=x,v=a]:build']\n",
        "tests/u3/test.yaml": "driver: report\nafter: ['m:build']\n",
    }
    suite = SUITE if overridden else SUITE.replace("def load_testcases", "def unused")
    run = run_suite(make_suite(tmp_path, files, suite), "-j1", "u1", "u2", "u3")
    assert {test_id: (record["status"], record["message"]) for test_id, record in run.results.items()} == {
        "m[v=c,w=x]": ("ERROR", f"no matrix variant 'm[v=c,w=x]' in {tmp_path}/tests/m/test.yaml"),
        "m[w=x,v=a]": (
            "ERROR", f"no matrix variant 'm[w=x,v=a]' in {tmp_path}/tests/m/test.yaml (its id is 'm[v=a,w=x]')"
        ),
        "m": ("ERROR", "m is a matrix testcase: name one variant, e.g. m[v=a,w=x]"),
        "u1": ("SKIP", "dependency m[v=c,w=x]:build failed"),
        "u2": ("SKIP", "dependency m[w=x,v=a]:build failed"),
        "u3": ("SKIP", "dependency m:build failed"),
    }


SET_UP_RAISES = '''
import sys
from e3suite import Testsuite
from e3suite.drivers import ShellDriver
from e3suite.testsuite import ConfigurationError

class Suite(Testsuite):
    test_driver_map = {"shell": ShellDriver}

    def set_up(self):
        if "--usage" in sys.argv:
            raise ConfigurationError("no compiler in PATH")
        raise RuntimeError("cannot find the compiler")

if __name__ == "__main__":
    sys.exit(Suite().main([a for a in sys.argv[1:] if a != "--usage"]))
'''


@pytest.mark.parametrize("usage", [False, True])
def test_a_set_up_that_raises_leaves_a_verdict_for_every_testcase(tmp_path: Path, usage: bool) -> None:
    """The results directory says why nothing ran; the error names the testsuite's set_up, not e3suite."""
    files: dict[str, str | bytes] = {f"tests/{name}/test.yaml": "driver: shell\ncmd: [true]\n" for name in "ab"}
    root = make_suite(tmp_path, files, SET_UP_RAISES)
    run = run_suite(root, "-j1", "--junit", "junit.xml", *(["--usage"] if usage else []))
    reason = "no compiler in PATH" if usage else "the testsuite's set_up raised RuntimeError: cannot find the compiler"
    assert 'errors="2"' in (root / "junit.xml").read_text()
    assert run.code == (2 if usage else 3)
    assert {test_id: (r["status"], r["message"]) for test_id, r in run.results.items()} == {
        "a": ("ERROR", f"not run: {reason}"), "b": ("ERROR", f"not run: {reason}"),
    }
    assert run.stdout.splitlines()[-1] == "e3suite: 0 passed, 2 failed, 0 skipped"
    assert "internal error" not in run.stderr
    assert run.stderr.endswith(f"e3suite: error: {reason}" + ("" if usage else " (traceback above)") + "\n")
    assert ("Traceback (most recent call last)" in run.stderr) is not usage


TEAR_DOWN_RAISES = SET_UP_RAISES.replace("def set_up(self):", "def tear_down(self):").replace(
    "cannot find the compiler", "cleanup failed"
)


def test_a_tear_down_that_raises_keeps_the_summary_and_the_reports(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {"tests/a/test.yaml": "driver: shell\ncmd: [true]\n"}
    root = make_suite(tmp_path, files, TEAR_DOWN_RAISES)
    run = run_suite(root, "-j1", "--junit", "junit.xml")
    assert run.code == 3
    assert run.results["a"]["status"] == "PASS"
    assert run.stdout.splitlines()[-1] == "e3suite: 1 passed, 0 failed, 0 skipped"
    assert (root / "junit.xml").is_file()
    assert "internal error" not in run.stderr
    assert "Traceback (most recent call last)" in run.stderr
    assert run.stderr.endswith(
        "e3suite: error: the testsuite's tear_down raised RuntimeError: cleanup failed (traceback above)\n"
    )


DOT_SUITE = '''
import sys
from e3suite import Testsuite
from e3suite.drivers import ShellDriver

class Suite(Testsuite):
    tests_subdir = "."
    test_driver_map = {"shell": ShellDriver}

if __name__ == "__main__":
    sys.exit(Suite().main())
'''


def test_kept_working_directories_inside_the_tests_directory_are_not_testcases(tmp_path: Path) -> None:
    """tests_subdir "." and --temp-dir .: the copies a kept working root holds are found no more."""
    root = make_suite(tmp_path, {"a/test.yaml": "driver: shell\ncmd: [cat, test.yaml]\n", "a/data": "x\n"}, DOT_SUITE)
    run = run_suite(root, "-j1", "--temp-dir", ".", "--cleanup-mode", "none")
    assert run.code == 0, run.stderr
    assert [p.name for p in root.glob("e3suite-*")] != []  # kept, with a copy of a/test.yaml
    again = run_suite(root, "-j1", "--temp-dir", ".", "--list")
    assert again.stdout.splitlines() == ["a"]


SUB_RESULTS = '''
import sys
from e3suite import Testsuite, TestDriver, TestStatus

class Checks(TestDriver):
    def add_fragments(self):
        self.add_fragment("run", self.run)

    def run(self, ctx):
        ctx.result.add_sub_result("check", TestStatus(self.test_env["check"]), "sub")
        ctx.result.set_status(TestStatus.PASS)

class Suite(Testsuite):
    test_driver_map = {"checks": Checks}
    default_driver = "checks"

if __name__ == "__main__":
    sys.exit(Suite().main())
'''


def test_failed_reruns_the_testcase_of_a_failed_sub_result(tmp_path: Path) -> None:
    """The testcase passed, its sub-result failed: --failed must run it again, not carry the failure over."""
    files: dict[str, str | bytes] = {"tests/m/test.yaml": "check: FAIL\n", "tests/ok/test.yaml": "check: PASS\n"}
    root = make_suite(tmp_path, files, SUB_RESULTS)
    assert run_suite(root, "-j1").code == 1
    again = run_suite(root, "-j1", "--failed")
    assert again.code == 1, again.stdout  # still failing: not a green rerun of nothing
    assert "e3suite: 2 testcases carried over from the previous run" in again.stdout  # ok and ok/check
    assert again.stdout.splitlines()[-1] == "e3suite: 1 passed, 1 failed, 0 skipped"


def test_an_option_of_the_testsuite_that_e3suite_has_already_is_a_usage_error(tmp_path: Path) -> None:
    suite = DOT_SUITE.replace(
        '    test_driver_map = {"shell": ShellDriver}\n',
        '    test_driver_map = {"shell": ShellDriver}\n\n'
        '    def add_options(self, parser):\n'
        '        parser.add_argument("--timeout", type=int)\n',
    )
    root = make_suite(tmp_path, {"a/test.yaml": "driver: shell\ncmd: [true]\n"}, suite)
    run = run_suite(root, "-j1")
    assert run.code == 2  # not 1, which says a testcase failed
    assert run.stderr == (
        "e3suite: error: the testsuite's add_options: argument --timeout: conflicting option string: --timeout "
        "(e3suite's own options: --help)\n"
    )


def test_a_driver_map_value_that_is_no_driver_class_is_a_usage_error(tmp_path: Path) -> None:
    suite = DOT_SUITE.replace('{"shell": ShellDriver}', '{"shell": ShellDriver, "lint": object}')
    root = make_suite(tmp_path, {"a/test.yaml": "driver: shell\ncmd: [true]\n"}, suite)
    run = run_suite(root, "-j1")
    assert run.code == 2, run.stderr
    assert run.stderr == (
        "e3suite: error: Suite.test_driver_map['lint']: <class 'object'> is not a TestDriver subclass\n"
    )



def test_a_default_driver_missing_from_the_driver_map_is_a_usage_error(tmp_path: Path) -> None:
    """Not an ERROR of each testcase without a driver key, "tests/a/test.yaml: unknown driver 'shel'"."""
    suite = DOT_SUITE.replace('{"shell": ShellDriver}', '{"shell": ShellDriver}\n    default_driver = "shel"')
    assert 'default_driver = "shel"' in suite
    root = make_suite(tmp_path, {"a/test.yaml": "cmd: [true]\n"}, suite)
    run = run_suite(root, "-j1")
    assert (run.code, run.stdout) == (2, ""), run.stderr
    assert run.stderr == "e3suite: error: Suite.default_driver 'shel' is not in test_driver_map (known: shell)\n"
    assert not (root / "out").exists()

UNRECORDABLE = '''
import sys
from e3suite import Testsuite, TestDriver, TestStatus

class Careless(TestDriver):
    def add_fragments(self):
        self.add_fragment("run", self.run)

    def run(self, ctx):
        kind = self.test_env["kind"]
        if kind == "info":
            ctx.result.info["handle"] = object()  # not JSON
        elif kind == "log":
            ctx.result.log = 42
        elif kind == "out":
            ctx.result.out = b"bytes"
        elif kind == "reason":
            ctx.result.failure_reasons.add("DIFF")
        elif kind == "sub":
            ctx.result.add_sub_result("check", "PASS")
        elif kind == "flaky":
            ctx.result.set_status(TestStatus.FLAKY)
        ctx.result.set_status(TestStatus.PASS)

class Suite(Testsuite):
    test_driver_map = {"careless": Careless}
    default_driver = "careless"

if __name__ == "__main__":
    sys.exit(Suite().main())
'''


def test_a_result_that_cannot_be_recorded_is_its_testcase_s_error_not_the_run_s(tmp_path: Path) -> None:
    """A non-JSON info value stopped the whole run (internal error, the other verdicts lost)."""
    files: dict[str, str | bytes] = {
        f"tests/{k}/test.yaml": f"kind: {k}\n" for k in ("info", "log", "out", "reason", "sub", "flaky", "ok")
    }
    root = make_suite(tmp_path, files, UNRECORDABLE)
    run = run_suite(root, "-j2")
    assert run.code == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert {test_id: (r["status"], r["message"]) for test_id, r in run.results.items()} == {
        "info": ("ERROR", "info:run: ctx.result.info['handle'] is not JSON-ready "
                          "(Object of type object is not JSON serializable); its repr was recorded"),
        "log": ("ERROR", "log:run: ctx.result.log must be a str (appended to with +=), not int"),
        "out": ("ERROR", "out:run: ctx.result.out must be a str or None, not bytes"),
        "reason": ("ERROR", "reason:run: ctx.result.failure_reasons holds 'DIFF', not a FailureReason"),
        "sub": ("ERROR", "sub:run raised TypeError: add_sub_result expects a TestStatus, got 'PASS'"),
        "flaky": ("ERROR", "flaky:run raised ValueError: FLAKY is the engine's verdict for a testcase that failed, "
                           "then passed when retried: set FAIL or PASS (and retries:)"),
        "ok": ("PASS", ""),
    }
    assert run.results["info"]["info"]["handle"].startswith("<object object at ")


def test_failed_runs_what_a_failure_limit_kept_from_running(tmp_path: Path) -> None:
    """-M / --max-failures stopped the run: --failed must run the rest, not carry their SKIP over for ever."""
    files: dict[str, str | bytes] = {f"tests/t{i}/test.yaml": "driver: shell\ncmd: [false]\n" for i in range(4)}
    root = make_suite(tmp_path, files)
    first = run_suite(root, "-j1", "--max-failures", "1")
    assert [r["message"] for r in first.results.values()].count("not run: failure limit reached") == 3
    again = run_suite(root, "-j1", "--failed")
    assert sorted(again.results) == ["t0", "t1", "t2", "t3"]
    assert {r["status"] for r in again.results.values()} == {"FAIL"}
    assert "carried over" not in again.stdout


LONG_SET_UP = '''
import sys, time
from pathlib import Path
from e3suite import Testsuite
from e3suite.drivers import ShellDriver

class Suite(Testsuite):
    test_driver_map = {"shell": ShellDriver}

    def set_up(self):  # a build that takes a while
        Path("setting-up").write_text("")
        time.sleep(60)

if __name__ == "__main__":
    sys.exit(Suite().main())
'''


@pytest.mark.parametrize("sig", [2, 15])
def test_an_interruption_during_set_up_ends_the_run_as_any_interruption(tmp_path: Path, sig: int) -> None:
    """Ctrl-C during a long set_up gave a KeyboardInterrupt traceback, SIGTERM no verdict at all."""
    import os
    import subprocess
    import sys
    import time

    from drivers_support import REPO

    files: dict[str, str | bytes] = {f"tests/{k}/test.yaml": "driver: shell\ncmd: [true]\n" for k in "ab"}
    root = make_suite(tmp_path, files, LONG_SET_UP)
    proc = subprocess.Popen(
        [sys.executable, "testsuite.py", "-j1", "--no-color"], cwd=root, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    deadline = time.monotonic() + 60
    while not (root / "setting-up").exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err
    assert out.splitlines()[-1] == "e3suite: 0 passed, 0 failed, 2 skipped"
    report = run_e3suite(root, "report", "out", "-a")
    assert report.stdout.splitlines()[:2] == ["SKIP   a: not run: interrupted", "SKIP   b: not run: interrupted"]
    status = run_e3suite(root, "status")
    assert status.stdout.startswith(f"e3suite: the run (pid {proc.pid}) ended after "), status.stdout


def test_compare_with_the_output_directory_itself_means_the_previous_run(tmp_path: Path) -> None:
    """--compare out with -o out: out/new is the previous run until the rotation, then this one."""
    root = make_suite(tmp_path, {"tests/t/test.yaml": "driver: shell\ncmd: [test, -e, flag]\n"})
    assert run_suite(root, "-j1").code == 1
    (root / "tests" / "t" / "flag").write_text("")
    for compare in ("out", "out/new"):
        run = run_suite(root, "-j1", "--compare", compare)
        assert "compared with out/old: fixed: 1" in run.stdout, (compare, run.stdout)
        (root / "tests" / "t" / "flag").unlink()
        assert run_suite(root, "-j1").code == 1
        (root / "tests" / "t" / "flag").write_text("")


def test_a_sub_result_id_on_the_command_line_runs_its_testcase(tmp_path: Path) -> None:
    """`FAIL m/check` in the failures list; `./testsuite.py m/check` must not answer "no testcase matches"."""
    files: dict[str, str | bytes] = {
        "tests/m/test.yaml": "check: FAIL\n",
        "tests/v/test.yaml": "check: FAIL\nmatrix: {x: [a, b]}\n",
        "tests/ok/test.yaml": "check: PASS\n",
    }
    root = make_suite(tmp_path, files, SUB_RESULTS)
    run = run_suite(root, "-j1", "m/check", "v[x=b]/check")
    assert sorted(run.results) == ["m", "m/check", "v[x=b]", "v[x=b]/check"], run.stderr


INTERRUPTED_SUITE = '''
import sys
from e3suite import Testsuite
from e3suite.drivers import ShellDriver

class Suite(Testsuite):
    test_driver_map = {"shell": ShellDriver}

    def {hook}(self):
        # What Ctrl-C does here: before the engine's own SIGINT handler, in a
        # long set_up (a build), or while a Dask executor imports distributed.
        raise KeyboardInterrupt

if __name__ == "__main__":
    sys.exit(Suite().main())
'''


@pytest.mark.parametrize("hook", ["set_up", "make_executor"])
def test_ctrl_c_before_the_run_began_is_an_interruption_not_a_traceback(tmp_path: Path, hook: str) -> None:
    """``./testsuite.py --dask`` and Ctrl-C in its first second: a KeyboardInterrupt traceback, death by SIGINT."""
    import json

    root = make_suite(tmp_path, {"tests/t/test.yaml": "driver: shell\ncmd: [true]\n"},
                      INTERRUPTED_SUITE.replace("{hook}", hook))
    run = run_suite(root, "-j1")
    assert run.code == 130, run.stderr
    assert "Traceback" not in run.stderr and "e3suite: 1 testcase not run: interrupted" in run.stdout, run.stderr
    index = json.loads((root / "out" / "new" / "index.json").read_text())
    assert index["run"]["interrupted"] is True


def test_sigterm_during_set_up_is_an_interruption(tmp_path: Path) -> None:
    """A CI timeout's SIGTERM during a long set_up ended the run on the spot: no summary, no end in the journal."""
    import json

    suite = INTERRUPTED_SUITE.replace("{hook}", "set_up").replace(
        "        raise KeyboardInterrupt\n",
        "        import os, signal, time\n        os.kill(os.getpid(), signal.SIGTERM)\n        time.sleep(30)\n",
    )
    assert "SIGTERM" in suite
    root = make_suite(tmp_path, {"tests/t/test.yaml": "driver: shell\ncmd: [true]\n"}, suite)
    run = run_suite(root, "-j1")
    assert run.code == 143, run.stderr
    assert "Traceback" not in run.stderr and "e3suite: 1 testcase not run: interrupted" in run.stdout, run.stderr
    index = json.loads((root / "out" / "new" / "index.json").read_text())
    assert index["run"]["interrupted"] is True


@pytest.mark.parametrize("value", ["'x'", "2.5", "-1", "True"])
def test_a_driver_retries_that_is_no_count_is_a_usage_error(tmp_path: Path, value: str) -> None:
    """``retries = "x"`` was an internal error (int() in the engine), 2.5 was taken as 2, True as 1."""
    suite = DOT_SUITE.replace(
        "class Suite(Testsuite):", f"class Retried(ShellDriver):\n    retries = {value}\n\n\nclass Suite(Testsuite):"
    ).replace('{"shell": ShellDriver}', '{"shell": Retried}')
    root = make_suite(tmp_path, {"a/test.yaml": "driver: shell\ncmd: [true]\n"}, suite)
    run = run_suite(root, "-j1")
    assert run.code == 2, run.stderr
    assert run.stderr == (
        f"e3suite: error: Retried.retries = {eval(value)!r} (test_driver_map['shell']): "
        "expected an integer of at least 0, the times a failing testcase is tried again\n"
    )


GC_SUITE = '''
import gc, sys
from e3suite import Testsuite, TestDriver, TestStatus

class Probe(TestDriver):
    def add_fragments(self):
        self.add_fragment("run", self.run)

    def run(self, ctx):
        ctx.result.set_status(TestStatus.PASS, f"collecting={gc.isenabled()} frozen={gc.get_freeze_count() > 0}")

class Suite(Testsuite):
    test_driver_map = {"probe": Probe}

    def set_up(self):
        print(f"set_up collecting={gc.isenabled()}", file=sys.stderr)

if __name__ == "__main__":
    if "--no-gc" in sys.argv:
        sys.argv.remove("--no-gc")
        gc.disable()
    code = Suite().main()
    print(f"after collecting={gc.isenabled()} frozen={gc.get_freeze_count()}", file=sys.stderr)
    sys.exit(code)
'''


@pytest.mark.parametrize("mode", ["-j2", "--in-process"])
def test_the_collector_is_off_only_while_the_plan_is_built(tmp_path: Path, mode: str) -> None:
    """Testcases and set_up run with the collector on, the plan frozen; the program gets it back as it was."""
    root = make_suite(tmp_path, {"tests/a/test.yaml": "driver: probe\n"}, GC_SUITE)
    run = run_suite(root, mode)
    assert run.code == 0, run.stderr
    assert run.results["a"]["message"] == "collecting=True frozen=True"
    assert "set_up collecting=True" in run.stderr
    assert "after collecting=True frozen=0" in run.stderr


def test_a_program_that_turned_the_collector_off_keeps_it_off(tmp_path: Path) -> None:
    root = make_suite(tmp_path, {"tests/a/test.yaml": "driver: probe\n"}, GC_SUITE)
    run = run_suite(root, "-j2", "--no-gc")
    assert run.code == 0, run.stderr
    assert run.results["a"]["message"] == "collecting=False frozen=True"
    assert "set_up collecting=False" in run.stderr
    assert "after collecting=False frozen=0" in run.stderr
