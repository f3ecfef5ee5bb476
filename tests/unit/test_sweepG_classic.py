"""ClassicDriver: an exception in set_up/run is not hidden by one that tear_down raises.

Before, a ``run()`` that crashed (a driver bug, ERROR with its traceback)
or raised TestAbortWithFailure, followed by a ``tear_down()`` that raised
TestSkip ("nothing to clean here"), ended SKIP with tear_down's message:
the crash and its traceback were gone from every report.
"""

from __future__ import annotations

from pathlib import Path

from drivers_support import make_suite, run_suite

SUITE = '''
import sys
from e3suite import Testsuite
from e3suite.drivers import ClassicDriver, TestAbortWithFailure, TestSkip


class Crashes(ClassicDriver):
    def run(self):
        raise RuntimeError("boom in run")

    def tear_down(self):
        raise TestSkip("nothing to clean")


class Fails(ClassicDriver):
    def run(self):
        raise TestAbortWithFailure("wrong answer")

    def tear_down(self):
        raise TestSkip("nothing to clean")


class Passes(ClassicDriver):
    def run(self):
        pass

    def tear_down(self):
        raise TestSkip("nothing to clean")


class Suite(Testsuite):
    test_driver_map = {"crashes": Crashes, "fails": Fails, "passes": Passes}

if __name__ == "__main__":
    sys.exit(Suite().main())
'''


def test_the_first_exception_decides_and_tear_down_s_is_logged(tmp_path: Path) -> None:
    root = make_suite(tmp_path, {
        f"tests/{name}/test.yaml": f"driver: {name}\n" for name in ("crashes", "fails", "passes")
    }, suite=SUITE)
    run = run_suite(root, "-j1")
    crashes, fails, passes = (run.results[name] for name in ("crashes", "fails", "passes"))
    assert crashes["status"] == "ERROR"
    assert crashes["message"] == "crashes:run raised RuntimeError: boom in run"
    assert "RuntimeError: boom in run" in crashes["log"]
    assert "tear_down: TestSkip: nothing to clean\n" in crashes["log"]
    assert (fails["status"], fails["message"]) == ("FAIL", "wrong answer")
    assert "tear_down: TestSkip: nothing to clean\n" in fails["log"]
    # A verdict analyze() set stays the one (as before).
    assert passes["status"] == "PASS"
    assert "ERROR  crashes: crashes:run raised RuntimeError: boom in run\n" in run.stdout


CWD_SUITE = '''
import sys
from e3suite import Testsuite
from e3suite.drivers import ClassicDriver


class InSub(ClassicDriver):
    def run(self):
        self.shell(["sh", "-c", "pwd; ls"], cwd="sub")
        self.ctx.result.info["working_dir"] = str(self.working_dir)


class Suite(Testsuite):
    test_driver_map = {"in-sub": InSub}

if __name__ == "__main__":
    sys.exit(Suite().main())
'''


def test_a_relative_cwd_is_below_the_working_directory(tmp_path: Path) -> None:
    """Before, ``self.shell(cmd, cwd="sub")`` ran in ``sub`` of the directory the testsuite was started from.

    That is the source tree: with a ``sub`` there, the command ran (and wrote) in it.
    """
    root = make_suite(tmp_path, {
        "tests/t/test.yaml": "driver: in-sub\n",
        "tests/t/sub/copied.txt": "",
        "sub/source-tree.txt": "",
    }, suite=CWD_SUITE)
    run = run_suite(root, "-j1")
    result = run.results["t"]
    assert result["status"] == "PASS", run.stdout
    working_dir = result["info"]["working_dir"]
    assert result["processes"][0]["output"] == f"{working_dir}/sub\ncopied.txt\n"
