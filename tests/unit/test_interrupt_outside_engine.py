"""Ctrl-C and SIGTERM before the engine runs (discovery, set-up) and after it (tear-down).

They printed a KeyboardInterrupt traceback (SIGTERM ended the process on the
spot), exited -2 or -15 instead of 130/143, and an interruption in set-up
left an index with no testcase and ``interrupted: false``: the next
comparison called every testcase "removed".
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_interrupt_run import REPO, make_suite

SUITE = '''
import os
import sys
import time
from pathlib import Path

from e3suite import FragmentContext, TestDriver, Testsuite, TestStatus


def pause(where):
    if os.environ.get("PAUSE_IN") == where:
        Path("paused").write_text(where)
        time.sleep(120)


class Driver(TestDriver):
    def add_fragments(self):
        self.add_fragment("run", self.run, after=self.test_env.get("after", []))

    def run(self, ctx: FragmentContext):
        ctx.result.set_status(TestStatus.FAIL if self.test_env.get("fail") else TestStatus.PASS)


class Suite(Testsuite):
    test_driver_map = {"d": Driver}
    default_driver = "d"

    def discover(self):
        pause("discover")
        return super().discover()

    def set_up(self):
        pause("set_up")

    def tear_down(self):
        pause("tear_down")

    def make_executor(self):  # planned, not run yet
        pause("make_executor")
        return super().make_executor()


if __name__ == "__main__":
    sys.exit(Suite().main())
'''


def run_paused(root: Path, where: str, sig: int, *args: str) -> tuple[int, str]:
    (root / "testsuite.py").write_text(SUITE)
    (root / "paused").unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PAUSE_IN": where}
    proc = subprocess.Popen(
        [sys.executable, "testsuite.py", "--no-color", "-j1", *args],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (root / "paused").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the run never reached its pause"
            time.sleep(0.05)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out


def index(root: Path) -> dict[str, object]:
    return dict(json.loads((root / "out" / "new" / "index.json").read_text()))


def test_ctrl_c_in_set_up_skips_every_testcase_and_exits_130(tmp_path: Path) -> None:
    make_suite(tmp_path, {"a": {}, "b": {}})
    code, out = run_paused(tmp_path, "set_up", signal.SIGINT)
    assert code == 130, out
    assert "Traceback" not in out
    assert "e3suite: 0 passed, 0 failed, 2 skipped" in out
    document = index(tmp_path)
    assert document["run"]["interrupted"] is True  # type: ignore[index]
    assert {(e["test"], e["status"], e["message"]) for e in document["results"]} == {  # type: ignore[attr-defined]
        ("a", "SKIP", "not run: interrupted"), ("b", "SKIP", "not run: interrupted"),
    }


def test_sigterm_in_tear_down_keeps_the_results_and_exits_143(tmp_path: Path) -> None:
    make_suite(tmp_path, {"a": {}, "b": {}})
    code, out = run_paused(tmp_path, "tear_down", signal.SIGTERM)
    assert code == 143, out
    assert "Traceback" not in out
    assert "e3suite: 2 passed, 0 failed, 0 skipped" in out
    document = index(tmp_path)
    assert document["run"]["interrupted"] is True  # type: ignore[index]
    assert [e["status"] for e in document["results"]] == ["PASS", "PASS"]  # type: ignore[attr-defined]


def test_ctrl_c_in_discovery_leaves_the_previous_results_as_they_were(tmp_path: Path) -> None:
    make_suite(tmp_path, {"a": {}})
    (tmp_path / "testsuite.py").write_text(SUITE)
    first = subprocess.run(
        [sys.executable, "testsuite.py", "-j1"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=120,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    before = (tmp_path / "out" / "new" / "index.json").read_text()
    code, out = run_paused(tmp_path, "discover", signal.SIGINT)
    assert code == 130, out
    assert "Traceback" not in out
    assert "e3suite: interrupted (SIGINT)" in out
    assert (tmp_path / "out" / "new" / "index.json").read_text() == before
    assert not (tmp_path / "out" / "old").exists()


def test_the_guard_raises_defers_and_drops() -> None:
    """A signal raises at once; in a deferred block at its end; once the run is interrupted, in a deferred
    block not at all (Ctrl-C hammered during an interrupted run's summary cut the summary short)."""
    import pytest

    from e3suite.interruption import InterruptGuard, RunInterrupted

    heard: list[int] = []
    guard = InterruptGuard(heard.append, lambda: bool(heard))
    before = signal.getsignal(signal.SIGINT)  # not always Python's own: importing dask_jobqueue sets one
    with guard:
        with pytest.raises(RunInterrupted) as raised:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler runs first
        assert raised.value.signum == signal.SIGTERM
        assert isinstance(raised.value, KeyboardInterrupt)  # what a hook's cleanup may catch
        heard.clear()
        done = []
        with pytest.raises(RunInterrupted), guard.deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            done.append("the block went on")
        assert done == ["the block went on"]
        with guard.deferred():  # the run is interrupted already (heard is not empty)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        assert heard == [signal.SIGINT, signal.SIGINT]
    assert signal.getsignal(signal.SIGINT) is before


def test_a_failed_run_interrupted_in_set_up_still_carries_the_others_over(tmp_path: Path) -> None:
    """The testcases --failed does not run again kept no result: the next report and --failed lost them."""
    make_suite(tmp_path, {"bad": {"fail": True}, "good": {}})
    (tmp_path / "testsuite.py").write_text(SUITE)
    first = subprocess.run(
        [sys.executable, "testsuite.py", "-j1"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=120,
    )
    assert first.returncode == 1, first.stdout + first.stderr
    code, out = run_paused(tmp_path, "set_up", signal.SIGINT, "--failed")
    assert code == 130, out
    results = {e["test"]: (e["status"], e.get("carried_over", False)) for e in index(tmp_path)["results"]}  # type: ignore[attr-defined]
    assert results == {"bad": ("SKIP", False), "good": ("PASS", True)}


def test_an_interruption_between_planning_and_running_skips_the_dependencies_too(tmp_path: Path) -> None:
    """Only the selected testcases were skipped: a dependency outside the selection had no verdict."""
    make_suite(tmp_path, {"app": {"after": ["lib:run"]}, "lib": {}})
    code, out = run_paused(tmp_path, "make_executor", signal.SIGTERM, "app")
    assert code == 143, out
    assert {(e["test"], e["status"]) for e in index(tmp_path)["results"]} == {  # type: ignore[attr-defined]
        ("app", "SKIP"), ("lib", "SKIP"),
    }


def test_a_signal_as_the_engine_returns_keeps_its_results(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Ctrl-C landing between the engine's end and run() returning lost the results: "e3suite: no testcase"."""
    from e3suite import FragmentContext, TestDriver, Testsuite, TestStatus

    class Driver(TestDriver):
        def add_fragments(self) -> None:
            self.add_fragment("run", self.run)

        def run(self, ctx: FragmentContext) -> None:
            ctx.result.set_status(TestStatus.FAIL if self.test_env.get("fail") else TestStatus.PASS)

    class Suite(Testsuite):
        test_driver_map = {"d": Driver}
        default_driver = "d"

        def run(self, engine):  # type: ignore[no-untyped-def]
            results = super().run(engine)
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C lands while run() returns
            time.sleep(5)
            return results

    for name, env in {"bad": '{"fail": true}', "good": "{}"}.items():
        (tmp_path / "tests" / name).mkdir(parents=True)
        (tmp_path / "tests" / name / "test.yaml").write_text(env)
    code = Suite(tmp_path).main(["-j1", "--in-process", "-o", str(tmp_path / "out"), "--progress", "none"])
    assert code == 130
    assert "e3suite: 1 passed, 1 failed, 0 skipped" in capsys.readouterr().out
