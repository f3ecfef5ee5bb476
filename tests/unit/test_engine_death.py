"""What a run leaves behind when the engine alone dies, and what a callback leaves behind.

The engine is SIGKILLed by itself (not its process group, as a user's
``kill -9 PID`` or the OOM killer would): its workers must notice, kill the
commands they run, never start the fragments queued behind, and leave.
A callback that forks, or starts a process it never waits for, leaks that
process: it is killed at the fragment's end and reported (LEAK).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import psutil
from test_interrupt_run import finish, make_suite, mark, start, survivors, wait_running

import e3suite.store as store

FORKING_SUITE = '''
import os
import subprocess
import sys
import time

from e3suite import FragmentContext, TestDriver, Testsuite, TestStatus


class ForkDriver(TestDriver):
    def add_fragments(self):
        self.add_fragment("run", self.run)

    def run(self, ctx: FragmentContext):
        how = self.test_env["how"]
        if how == "fork":
            if os.fork() == 0:
                # The child: a copy of the worker that sleeps on.
                time.sleep(float(self.test_env["mark"]))
                os._exit(0)
        elif how == "fork-return":
            os.fork()  # both return from the callback
        elif how == "popen":
            subprocess.Popen(["sleep", self.test_env["mark"]])
        ctx.result.set_status(TestStatus.PASS, how)


class Suite(Testsuite):
    test_driver_map = {"fork": ForkDriver}
    default_driver = "fork"


if __name__ == "__main__":
    sys.exit(Suite().main())
'''


def test_a_sigkilled_engine_leaves_no_worker_and_no_command(tmp_path: Path) -> None:
    text = mark()
    # Six testcases on two slots: two run, others are queued behind them.
    make_suite(tmp_path, {f"t{i}": {"cmd": f"sleep {text}"} for i in range(6)})
    proc = start(tmp_path, "-j2", "--progress", "none")
    try:
        wait_running(text, 2)
        engine = psutil.Process(proc.pid)
        # Its workers, not the run's guardian (a session of its own: see the next test).
        workers = [p for p in engine.children() if os.getsid(p.pid) == os.getsid(proc.pid)]
        assert len(workers) == 2
        os.kill(proc.pid, signal.SIGKILL)  # the engine alone
        proc.wait(30)
        deadline = time.monotonic() + 10
        left: list[psutil.Process] = []
        while time.monotonic() < deadline:
            left = [p for p in workers if _alive(p)] + survivors(text)
            if not left:
                break
            time.sleep(0.1)
        assert left == [], f"still running 10 s after the engine died: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in survivors(text):
            p.kill()
    # What had ended before is readable; nothing claims to be finished.
    journal = (tmp_path / "out" / "new" / "journal.jsonl").read_text().splitlines()
    assert json.loads(journal[0])["event"] == "run_started"


def test_a_sigkill_of_the_whole_process_group_leaves_no_command(tmp_path: Path) -> None:
    """As a CI job cancelled with ``kill -9 -PGID``: the workers die at once with the engine, without a word.

    Their commands, each in a session of its own, ran on under init. The
    run's guardian, forked in a session of its own as the run started, ends
    them and leaves.
    """
    text = mark()
    make_suite(tmp_path, {f"t{i}": {"cmd": f"sleep {text} & sleep {text}"} for i in range(4)})
    proc = start(tmp_path, "-j2", "--progress", "none", new_session=True)
    try:
        wait_running(text, 4)
        engine = psutil.Process(proc.pid)
        [guardian] = [p for p in engine.children() if os.getsid(p.pid) != proc.pid]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        deadline = time.monotonic() + 10
        left: list[psutil.Process] = []
        while time.monotonic() < deadline:
            left = survivors(text) + ([guardian] if _alive(guardian) else [])
            if not left:
                break
            time.sleep(0.1)
        assert left == [], f"still running 10 s after the process group was killed: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in survivors(text):
            p.kill()


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def run_forking(tmp_path: Path, how: str, *args: str) -> tuple[int, str, dict[str, object]]:
    text = mark()
    root = make_suite(tmp_path, {"f": {"how": how, "mark": text}, "other": {"how": "none", "mark": text}})
    (root / "testsuite.py").write_text(FORKING_SUITE)
    proc = start(root, "--progress", "none", "--timeout", "60", *args)
    code, out = finish(proc, text)
    results = store.load_records(root / "out" / "new")
    return code, out, results


def test_a_forked_child_of_a_callback_is_a_leak_killed_at_the_fragments_end(tmp_path: Path) -> None:
    code, out, results = run_forking(tmp_path, "fork", "-j2")
    assert code == 0, out
    assert "PASS" in out
    f = results["f"]
    assert f["status"] == "PASS"
    assert "LEAK" in f["failure_reasons"]
    assert "f:run left 1 process running (killed): pid" in f["log"]


def test_a_forked_child_that_returns_from_the_callback_never_runs_as_a_worker(tmp_path: Path) -> None:
    code, out, results = run_forking(tmp_path, "fork-return", "-j1")
    assert code == 0, out
    assert results["f"]["status"] == "PASS"
    assert results["other"]["status"] == "PASS"
    assert out.count(" f: fork-return") == 1, out


def test_a_process_never_waited_for_fails_the_testcase_with_leak_result_fail(tmp_path: Path) -> None:
    code, out, results = run_forking(tmp_path, "popen", "-j2", "--leak-result", "fail")
    assert code == 1, out
    assert results["f"]["status"] == "FAIL"
    assert results["f"]["message"].startswith("left processes running (--leak-result fail)")
    assert results["other"]["status"] == "PASS"


def test_a_forked_child_in_process_is_killed_too(tmp_path: Path) -> None:
    code, out, results = run_forking(tmp_path, "fork", "--in-process", "-j1")
    assert code == 0, out
    assert "LEAK" in results["f"]["failure_reasons"]


BROKEN_SHUTDOWN_SUITE = '''
import sys

import e3suite.executors.local as local
from e3suite import Testsuite
from e3suite.drivers import ShellDriver


def broken(self):
    raise RuntimeError("shutdown broke")


local.MultiprocessScheduler.shutdown = broken  # an internal error where the workers are told to leave


class Suite(Testsuite):
    test_driver_map = {"shell": ShellDriver}
    default_driver = "shell"


if __name__ == "__main__":
    sys.exit(Suite().main())
'''


def test_an_internal_error_that_leaves_workers_running_still_ends_the_run(tmp_path: Path) -> None:
    """The error and exit status 3, then the end: the interpreter's exit waited for the workers for ever."""
    text = mark()
    root = make_suite(tmp_path, {"a": {"cmd": f"echo {text}"}, "b": {"cmd": f"echo {text}"}})
    (root / "testsuite.py").write_text(BROKEN_SHUTDOWN_SUITE)
    proc = start(root, "-j2", "--progress", "none")
    code, out = finish(proc, text)
    assert code == 3, out
    assert "e3suite: internal error: RuntimeError: shutdown broke" in out
