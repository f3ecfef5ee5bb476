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
        workers = engine.children()
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
