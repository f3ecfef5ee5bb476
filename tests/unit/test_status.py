"""The live status of a real run, asked from another process: e3suite status, --wait, SIGUSR1, e3suite report."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from test_interrupt_run import REPO, finish, make_suite, mark, start, survivors, wait_running


def e3suite(root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "e3suite", *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout
    )


def status_file(root: Path, running: str | None = None) -> dict[str, Any]:
    """The run's status file once it shows a fragment running (``running``: that one)."""
    deadline = time.monotonic() + 60
    path = root / "out" / "new" / "status.json"
    while True:
        try:
            status = json.loads(path.read_text())
            shown = [r["fragment"] for r in status["running"]]
            if shown and (running is None or running in shown):
                return dict(status)
        except (OSError, ValueError):
            pass
        assert time.monotonic() < deadline, f"no status file with {running or 'a fragment'} running"
        time.sleep(0.05)


def wait_for(condition: Any, what: str, timeout: float = 60) -> None:
    """Until ``condition()`` holds: a generous deadline, never a fixed sleep (a loaded machine is slow)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s"
        time.sleep(0.05)


def started_journal(results: Path, cwd: Path, *args: str) -> Any:
    """A results directory whose journal tells a run of ``t.py ARGS`` started: its ResultsWriter."""
    from e3suite import store

    writer = store.ResultsWriter(results)
    writer.journal.write("run_started", start=time.time(), argv=["t.py", *args], cwd=str(cwd), host=socket.gethostname(), jobs=1)
    return writer

def test_status_of_a_running_run_then_of_the_finished_one(tmp_path: Path) -> None:
    # The slow testcase runs until the test ends its command, not for a fixed
    # time (--timeout 3 used to end it): on a loaded machine the queries
    # below took longer than that, and found it finished instead of running.
    text = mark()
    make_suite(tmp_path, {"slow": {"cmd": f"sleep {text}"}, "quick": {"cmd": "true"}, "next": {"cmd": "true"}})
    run_log = tmp_path / "run.log"  # a file, not a pipe: read while the run goes
    with run_log.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "testsuite.py", "--no-color", "-j1", "--progress", "none"],
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        wait_running(text, 1)
        status_file(tmp_path, "slow:run")
        shown = e3suite(tmp_path, "status", "--json")
        assert shown.returncode == 0, shown.stderr
        status = json.loads(shown.stdout)
        assert status["state"] == "running" and status["pid"] == proc.pid
        [running] = status["running"]
        assert (running["test"], running["fragment"], running["slot"], running["attempt"]) == (
            "slow", "slow:run", 0, 1
        )
        assert isinstance(running["pid"], int)
        assert status["waiting"] == [] and status["tests"]["done"] == 2  # -j1: quick and next ran first
        person = e3suite(tmp_path, "status")
        assert f"e3suite: run of pid {proc.pid}, running for " in person.stdout
        assert "  slot 0  slow:run pid " in person.stdout
        # e3suite report while it runs: the running testcase is running, not lost.
        report = e3suite(tmp_path, "report", "out/new", "-a", "--no-color")
        assert "RUNNING slow" in report.stdout
        assert "e3suite: the run is still going: 1 testcase running," in report.stdout
        # In the run's own terminal: SIGUSR1 prints the same snapshot.
        os.kill(proc.pid, signal.SIGUSR1)
        wait_for(lambda: "  slot 0  slow:run" in run_log.read_text(), "the SIGUSR1 snapshot")
        assert f"e3suite: run of pid {proc.pid}, running for " in run_log.read_text()
        # Now it ends: running -> finished.
        for command in survivors(text):
            command.terminate()
        waited = e3suite(tmp_path, "status", "--wait", "slow", "--timeout", "60")
        assert waited.returncode == 0, waited.stderr
        assert waited.stdout.startswith("FAIL   slow: killed by SIGTERM"), waited.stdout
        done = e3suite(tmp_path, "status", "--wait", "done", "--timeout", "60")
        assert done.returncode == 0, done.stderr
        assert "ended after" in done.stdout
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(60)
    wait_for(lambda: not survivors(text), "the end of the run's processes", timeout=10)
    assert proc.returncode == 1
    ended = json.loads(e3suite(tmp_path, "status", "--json").stdout)
    assert ended["state"] == "ended" and ended["tests"]["done"] == 3
    told = e3suite(tmp_path, "status").stdout
    assert told.startswith(f"e3suite: the run (pid {proc.pid}) ended after ") and "fragments: 0 running," in told


def test_wait_gives_up_after_its_timeout(tmp_path: Path) -> None:
    text = mark()
    make_suite(tmp_path, {"slow": {"cmd": f"sleep {text}"}})
    proc = start(tmp_path, "-j1", "--progress", "none")
    try:
        wait_running(text, 1)
        status_file(tmp_path)
        waited = e3suite(tmp_path, "status", "--wait", "done", "--timeout", "0.5")
        assert waited.returncode == 1
        assert "--wait done: still waiting after 0.5 s" in waited.stderr
    finally:
        proc.terminate()
        finish(proc, text)


def test_wait_for_an_id_the_run_does_not_have_says_so_at_once(tmp_path: Path) -> None:
    text = mark()
    make_suite(tmp_path, {"slow": {"cmd": f"sleep {text}"}})
    proc = start(tmp_path, "-j1", "--progress", "none")
    try:
        wait_running(text, 1)
        status_file(tmp_path)
        waited = e3suite(tmp_path, "status", "--wait", "slwo", "--timeout", "60")
        assert waited.returncode == 2
        assert waited.stderr == "e3suite: --wait slwo: no testcase of that id in this run\n"
        # a sub-result of a testcase (slow/check) is announced by its result only: it is waited for
        waited = e3suite(tmp_path, "status", "--wait", "slow/check", "--timeout", "0.3")
        assert waited.returncode == 1, waited.stderr
    finally:
        proc.terminate()
        finish(proc, text)


def test_a_killed_run_stopped_without_finishing(tmp_path: Path) -> None:
    text = mark()
    make_suite(tmp_path, {"slow": {"cmd": f"sleep {text}"}})
    proc = start(tmp_path, "-j1", "--progress", "none")
    try:
        wait_running(text, 1)
        status_file(tmp_path)
        os.kill(proc.pid, signal.SIGKILL)  # its worker then ends its command
        proc.wait(30)
    finally:
        finish(proc, text)
    shown = e3suite(tmp_path, "status")
    assert shown.returncode == 0
    assert "the run stopped without finishing: its engine (pid" in shown.stdout
    assert e3suite(tmp_path, "status", "--wait", "done", "--timeout", "5").returncode == 1


def test_status_of_no_results_directory_is_a_usage_error(tmp_path: Path) -> None:
    shown = e3suite(tmp_path, "status", str(tmp_path / "nowhere"))
    assert shown.returncode == 2
    assert "is not an e3suite results directory" in shown.stderr


def test_the_t_key_prints_the_status_in_the_runs_terminal(tmp_path: Path) -> None:
    import shutil

    import pytest

    script = shutil.which("script")
    if script is None:
        pytest.skip("no script(1) here to give the run a terminal")
    text = mark()
    make_suite(tmp_path, {"slow": {"cmd": f"sleep {text}"}})
    # The testcase runs until the test ends it, not for a fixed time: on a
    # loaded machine a --timeout could end it before the key is read.
    command = f"{sys.executable} testsuite.py --no-color --progress none -j1"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run_log = tmp_path / "run.log"  # a file, not a pipe: read while the run goes
    with run_log.open("wb") as log:
        proc = subprocess.Popen(
            [script, "-qfec", command, "/dev/null"], cwd=tmp_path, env=env,
            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        wait_running(text, 1)
        status_file(tmp_path)
        assert proc.stdin is not None
        proc.stdin.write(b"t")
        proc.stdin.flush()
        wait_for(lambda: "  slot 0  slow:run pid " in run_log.read_text(errors="replace"), "the status after 't'")
        for sleeping in survivors(text):
            sleeping.terminate()
        proc.stdin.close()
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(60)
    text_out = run_log.read_text(errors="replace").replace("\r", "")
    assert "e3suite: run of pid " in text_out
    assert "  slot 0  slow:run pid " in text_out
    assert "slow: killed by SIGTERM" in text_out
    wait_for(lambda: not survivors(text), "the end of the run's processes", timeout=10)


def test_a_retry_s_delay_reads_as_time_left_for_a_person() -> None:
    from e3suite.reports.status import render

    status = {
        "state": "running", "pid": 1, "elapsed": 5.0, "tests": {}, "fragments": {"waiting": 1},
        "waiting": [{"test": "t", "fragment": "t:run", "waits_for": "retry (attempt 2 of 3)", "retry_at": 1090.0}],
    }
    assert "  t:run  for retry (attempt 2 of 3) in 1:30\n" in render(status, 1000.0)


def test_a_status_file_written_a_while_ago_reads_at_the_time_asked() -> None:
    """Nothing ended for 40 s (one long fragment): the file is 40 s old, the clocks are not."""
    from e3suite.reports.status import render

    status = {
        "state": "running", "pid": 1, "updated": 1000.0, "elapsed": 5.0, "eta": 60.0, "tests": {},
        "fragments": {"running": 1},
        "running": [{"test": "t", "fragment": "t:run", "slot": 0, "start": 996.0}],
    }
    text = render(status, 1040.0)
    assert text.startswith("e3suite: run of pid 1, running for 0:45, ~0:20 left\n"), text
    assert "  slot 0  t:run  0:44\n" in text
    assert render(status, 1200.0).startswith("e3suite: run of pid 1, running for 3:25, ~0:00 left\n")
    # a finished run's file says how long it took, whenever it is read
    ended = {**status, "state": "ended", "eta": None}
    assert render(ended, 5000.0).startswith("e3suite: the run (pid 1) ended after 0:05\n")
    # A merged results directory has no engine: no "pid None".
    assert render({**ended, "pid": None}, 5000.0).startswith("e3suite: the run ended after 0:05\n")
    assert render({**ended, "pid": None, "state": "stopped"}, 5000.0).startswith(
        "e3suite: the run stopped without finishing: its engine is gone\n"
    )


def test_a_run_still_in_its_set_up_is_running_not_stopped(tmp_path: Path) -> None:
    # Its set_up (a build, say) waits for a file this test writes once it has looked.
    go = tmp_path / "go"
    suite = (tmp_path / "testsuite.py")
    make_suite(tmp_path, {"t": {"cmd": "true"}})
    suite.write_text(suite.read_text().replace(
        "class Suite(Testsuite):\n",
        "class Suite(Testsuite):\n"
        "    def set_up(self):\n"
        "        import time\n"
        f"        while not os.path.exists({str(go)!r}):\n"
        "            time.sleep(0.05)\n\n",
    ))
    proc = start(tmp_path, "--progress", "none")
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "out" / "new" / "status.json").exists():
            assert time.monotonic() < deadline and proc.poll() is None, "no status file while the run sets up"
            time.sleep(0.05)
        status = json.loads(e3suite(tmp_path, "status", "--json").stdout)
        assert (status["state"], status["pid"], status["phase"]) == ("running", proc.pid, "starting")
        assert "starting for" in e3suite(tmp_path, "status").stdout
        report = e3suite(tmp_path, "report", "out")  # a results directory already, of a run still going
        assert report.returncode == 0, report.stderr
        assert "e3suite: the run is still going" in report.stdout
        early = e3suite(tmp_path, "status", "--wait", "done", "--timeout", "0.5")
        assert early.returncode == 1 and "still waiting" in early.stderr  # not "stopped"
    finally:
        go.write_text("")
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    done = e3suite(tmp_path, "status", "--wait", "done", "--timeout", "60")
    assert done.returncode == 0 and "ended after" in done.stdout


def test_a_killed_run_s_status_counts_what_its_journal_holds(tmp_path: Path) -> None:
    """The status file lags (twice a second) and nobody updates it after a SIGKILL: it showed fragments
    still running and fewer testcases done than the journal held."""
    text = mark()
    make_suite(tmp_path, {"a": {"cmd": "true"}, "b": {"cmd": "true"}, "slow": {"cmd": f"sleep {text}"}})
    proc = start(tmp_path, "-j1", "--progress", "none")
    try:
        wait_running(text, 1)
        status_file(tmp_path)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        finish(proc, text)
    path = tmp_path / "out" / "new" / "status.json"
    stale = json.loads(path.read_text())
    stale["tests"]["done"], stale["tests"]["by_status"] = 0, {}  # as a file written before the two ends
    path.write_text(json.dumps(stale))
    status = json.loads(e3suite(tmp_path, "status", "--json").stdout)
    assert status["state"] == "stopped"
    assert (status["tests"]["done"], status["tests"]["total"], status["tests"]["by_status"]) == (2, 3, {"PASS": 2})
    assert status["running"] == [] and status["fragments"].get("running", 0) == 0
    assert "testcases: 2/3 done: 2 PASS" in e3suite(tmp_path, "status").stdout


def test_a_run_that_ended_before_its_first_fragment_has_ended(tmp_path: Path) -> None:
    """A set-up that fails leaves the status file at "starting": the run was called stopped, 0/0 testcases."""
    suite = tmp_path / "testsuite.py"
    make_suite(tmp_path, {"t": {"cmd": "true"}})
    suite.write_text(suite.read_text().replace(
        "class Suite(Testsuite):\n", "class Suite(Testsuite):\n    def set_up(self):\n        raise SystemExit(5)\n\n"
    ))
    proc = start(tmp_path, "--progress", "none")
    proc.communicate(timeout=120)
    shown = e3suite(tmp_path, "status")
    assert shown.returncode == 0, shown.stderr
    assert "ended after" in shown.stdout, shown.stdout
    assert e3suite(tmp_path, "status", "--wait", "done", "--timeout", "5").returncode == 0


def test_status_of_another_tool_s_journal_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "journal.jsonl").write_text('{"a": 1}\n')
    shown = e3suite(tmp_path, "status", "other")
    assert shown.returncode == 2
    assert "is not an e3suite results directory (its journal has no run_started event)" in shown.stderr


def test_status_of_a_run_killed_as_it_started_says_it_recorded_nothing(tmp_path: Path) -> None:
    """An empty journal (or part of its first line) is a run that stopped at once, not "not a results directory"."""
    torn = b'{"start":1796409004.6591265,"version":"0.1.'
    for journal, how in ((b"", "its journal is empty"), (torn, "its journal holds only part of its first line")):
        (tmp_path / "out" / "new").mkdir(parents=True, exist_ok=True)
        (tmp_path / "out" / "new" / "journal.jsonl").write_bytes(journal)
        says = f"out/new: the run recorded nothing before it stopped ({how}: killed as it started?)"
        # Answered, as for a run that stopped without finishing: exit 0, and 1 for --wait (it stopped first).
        shown = e3suite(tmp_path, "status", "out")
        assert (shown.returncode, shown.stdout, shown.stderr) == (0, f"e3suite: {says}\n", "")
        shown = e3suite(tmp_path, "status", "--json")
        assert shown.returncode == 0, shown.stderr
        document = json.loads(shown.stdout)
        assert (document["state"], document["recorded_nothing"], document["tests"]["total"]) == ("stopped", says, 0)
        shown = e3suite(tmp_path, "status", "--wait", "done", "--timeout", "5")
        assert (shown.returncode, shown.stdout) == (1, f"e3suite: {says}\n")
        # Not "no testcase of that id": it stopped before it told which testcases it has.
        shown = e3suite(tmp_path, "status", "--wait", "a/b", "--timeout", "5")
        assert (shown.returncode, shown.stderr) == (1, f"e3suite: {says}: no verdict for a/b\n")
        assert e3suite(tmp_path, "status", "--watch").returncode == 0
    (tmp_path / "out" / "new" / "journal.jsonl").unlink()
    shown = e3suite(tmp_path, "status")
    assert (shown.returncode, shown.stderr) == (
        2, "e3suite: error: out/new is not an e3suite results directory (no journal.jsonl)\n"
    )


def test_ctrl_c_ends_watch_without_a_traceback(tmp_path: Path) -> None:
    """Ctrl-C is how ``--watch`` of a run still going ends: it printed a KeyboardInterrupt traceback."""
    from e3suite import store
    from e3suite.reports.status import write_starting

    results = tmp_path / "out" / "new"
    writer = store.ResultsWriter(results)
    info = {"start": time.time(), "argv": ["t.py"], "cwd": str(tmp_path), "host": socket.gethostname(), "jobs": 1}
    writer.journal.write("run_started", **info)
    write_starting(writer, info)  # a run of this very process, "starting": alive
    writer.journal.close()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "e3suite", "status", "--watch", "--interval", "0.1", str(results)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        assert "starting for" in proc.stdout.readline()  # it watches
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def test_an_interval_or_timeout_that_is_no_time_is_a_usage_error(tmp_path: Path) -> None:
    """--interval -1 watched in a busy loop, --timeout -1 gave up at once: both are the user's slip."""
    for args in (["--watch", "--interval", "-1"], ["--wait", "done", "--timeout", "-1"], ["--interval", "0"]):
        done = e3suite(tmp_path, "status", str(tmp_path), *args)
        assert done.returncode == 2 and "must" in done.stderr, (args, done.stderr)


def test_a_run_whose_fragments_run_long_is_not_shown_younger_than_they_are() -> None:
    """The status file is written on events only: 10 s into two long fragments, it said "running for 0:02".

    Its ``elapsed`` and ``eta`` are as of ``updated``; a reader ages them to now.
    """
    from e3suite.reports.status import render

    status = {
        "state": "running", "pid": 1, "updated": 1002.0, "elapsed": 2.0, "eta": 30.0,
        "run": {"start": 1000.0}, "tests": {}, "fragments": {"running": 1},
        "running": [{"test": "t", "fragment": "t:run", "slot": 0, "start": 1001.0}],
    }
    shown = render(status, 1012.0)
    assert shown.startswith("e3suite: run of pid 1, running for 0:12, ~0:20 left\n"), shown
    assert "  slot 0  t:run  0:11\n" in shown


def test_status_options_that_would_be_ignored_are_usage_errors(tmp_path: Path) -> None:
    """--timeout without --wait, --interval without --watch, --watch with --wait were silently ignored."""
    for args, says in [
        (("--timeout", "5"), "--timeout applies to --wait only"),
        (("--interval", "2"), "--interval applies to --watch only"),
        (("--watch", "--wait", "done"), "--watch and --wait contradict each other"),
    ]:
        shown = e3suite(tmp_path, "status", "nowhere", *args)
        assert shown.returncode == 2, (args, shown.stderr)
        assert f"e3suite status: error: {says}" in shown.stderr, shown.stderr
    shown = e3suite(tmp_path, "status", "--watch", "--interval", "0")
    assert shown.returncode == 2
    assert shown.stderr.endswith("argument --interval: '0' must be more than 0 seconds\n"), shown.stderr


def test_watch_json_prints_one_object_a_line(tmp_path: Path) -> None:

    results = tmp_path / "out" / "new"
    writer = started_journal(results, tmp_path)
    writer.journal.write("run_ended", end=time.time(), duration=0.0, interrupted=False)
    writer.journal.close()
    shown = e3suite(tmp_path, "status", "--watch", "--json")
    assert shown.returncode == 0, shown.stderr
    [line] = shown.stdout.splitlines()
    assert json.loads(line)["state"] == "ended"


def test_wait_prints_the_testcase_line_with_its_attempts(tmp_path: Path) -> None:
    """--wait a/b printed 'FLAKY  a/b: ok', without the '(attempt 2 of 3 passed)' every other report shows."""
    from e3suite.model import Attempt, TestResult, TestStatus

    results = tmp_path / "out" / "new"
    writer = started_journal(results, tmp_path)
    writer.journal.write("test_discovered", test="a/b")
    flaky = TestResult("a/b", TestStatus.FLAKY, "ok", attempts_allowed=3)
    flaky.attempts = [Attempt(1, TestStatus.FAIL, "bad", 0.1), Attempt(2, TestStatus.PASS, "ok", 0.1)]
    writer.write_result(flaky)
    writer.drain()
    writer.journal.write("run_ended", end=time.time(), duration=0.0, interrupted=False)
    writer.journal.close()
    shown = e3suite(tmp_path, "status", "--wait", "a/b")
    assert (shown.returncode, shown.stdout) == (0, "FLAKY  a/b: ok (attempt 2 of 3 passed)\n"), shown.stderr


def test_a_run_without_its_status_file_is_told_without_pid_none(tmp_path: Path) -> None:
    """A results directory copied without status.json: 'the run (pid None) ended after 0:04'."""

    results = tmp_path / "out" / "new"
    writer = started_journal(results, tmp_path)
    writer.journal.write("run_ended", end=time.time(), duration=4.0, interrupted=False)
    writer.journal.close()
    shown = e3suite(tmp_path, "status")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("e3suite: the run ended after 0:04\n"), shown.stdout
    killed = tmp_path / "killed"
    writer = started_journal(killed, tmp_path)
    writer.journal.close()
    shown = e3suite(tmp_path, "status", "killed")
    assert shown.stdout.startswith("e3suite: the run stopped without finishing: its engine is gone\n"), shown.stdout


def test_wait_for_an_id_a_finished_failed_run_does_not_have_is_a_usage_error(tmp_path: Path) -> None:
    """A --failed run's testcase list is whole only once it ended: a typo then waited, and was exit 1."""
    from e3suite.model import TestResult, TestStatus

    results = tmp_path / "out" / "new"
    writer = started_journal(results, tmp_path, "--failed")
    kept = TestResult("kept", TestStatus.PASS, "")
    kept.carried_over = True
    writer.write_result(kept)
    writer.drain()
    writer.journal.write("test_discovered", test="again")
    writer.write_result(TestResult("again", TestStatus.PASS, ""))
    writer.drain()
    writer.journal.write("run_ended", end=time.time(), duration=1.0, interrupted=False)
    writer.journal.close()
    shown = e3suite(tmp_path, "status", "--wait", "agian")
    assert (shown.returncode, shown.stderr) == (2, "e3suite: --wait agian: no testcase of that id in this run\n")
    assert e3suite(tmp_path, "status", "--wait", "kept").stdout == "PASS   kept (carried over)\n"
