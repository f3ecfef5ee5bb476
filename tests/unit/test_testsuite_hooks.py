"""The overridable steps of Testsuite apply to every testcase of the run."""

from __future__ import annotations

from pathlib import Path

import pytest
from drivers_support import make_suite, run_suite

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
    assert "Traceback" not in run.stderr and "e3suite: interrupted" in run.stderr, run.stderr
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
    assert "Traceback" not in run.stderr and "e3suite: interrupted" in run.stderr, run.stderr
    index = json.loads((root / "out" / "new" / "index.json").read_text())
    assert index["run"]["interrupted"] is True
