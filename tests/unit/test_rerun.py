"""``--failed`` takes again what the last run did not see pass, testcases it never ran included.

A run stopped by Ctrl-C or a failure limit gives the testcases it did not
reach SKIP "not run: ...": ``--failed`` left them out and carried their SKIP
over, so a testcase that failed before the interruption was never run again
and the ``--failed`` run passed (exit 0).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from test_interrupt_run import REPO, make_suite

import e3suite.rerun as rerun
import e3suite.store as store


def run_suite(suite: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``testsuite.py --no-color -j1 ARGS`` in ``suite``, with this checkout's e3suite."""
    return subprocess.run(
        [sys.executable, "testsuite.py", "--no-color", "-j1", *args],
        cwd=suite, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120,
    )


def test_what_runs_again(tmp_path: Path) -> None:
    entries = [
        {"test": test, "status": status, "message": message, "duration": 0.1, "record": None}
        for test, status, message in [
            ("pass", "PASS", ""),
            ("fail", "FAIL", "exit status 1"),
            ("error", "ERROR", "no verdict: the run ended before this testcase finished"),
            ("flaky", "FLAKY", "passed on attempt 2"),
            ("dependant", "SKIP", "dependency fail:run failed"),
            ("interrupted", "SKIP", "not run: interrupted"),
            ("limited", "SKIP", "not run: failure limit reached"),
            ("unwritten", "SKIP", "not run: the results could not be written"),
            ("timed", "SKIP", "not run: time limit reached (--max-time 60 s)"),
            ("control", "SKIP", "needs a GPU"),
            ("na", "NOT_APPLICABLE", "not run: interrupted as a driver's own words"),
        ]
    ]
    store.write_index(tmp_path, {"start": 1.0}, entries)
    assert rerun.to_run_again(tmp_path) == {
        "fail", "error", "flaky", "dependant", "interrupted", "limited", "unwritten", "timed",
    }


def test_failed_after_a_failure_limit_runs_what_the_limit_skipped(tmp_path: Path) -> None:
    make_suite(tmp_path, {"a": {"cmd": "exit 1"}, "b": {"cmd": "true"}, "c": {"cmd": "true"}})
    run = functools.partial(run_suite, tmp_path)

    first = run("--max-failures", "1")
    assert first.returncode == 1, first.stdout + first.stderr
    assert "SKIP   b: not run: failure limit reached" in first.stdout
    again = run("--failed")
    assert again.returncode == 1, again.stdout + again.stderr
    assert "PASS   b" in again.stdout and "PASS   c" in again.stdout and "FAIL   a" in again.stdout
    index = json.loads((tmp_path / "out" / "new" / "index.json").read_text())
    assert {e["test"]: (e["status"], e.get("carried_over", False)) for e in index["results"]} == {
        "a": ("FAIL", False), "b": ("PASS", False), "c": ("PASS", False),
    }


def test_failed_runs_a_testcase_the_last_run_does_not_have(tmp_path: Path) -> None:
    """One added since (or moved into a shard's part) was neither run nor carried: lost from the results."""
    make_suite(tmp_path, {"a": {"cmd": "exit 1"}, "b": {"cmd": "true"}})
    run = functools.partial(run_suite, tmp_path)

    assert run().returncode == 1
    (tmp_path / "tests" / "added").mkdir()
    (tmp_path / "tests" / "added" / "test.yaml").write_text(json.dumps({"cmd": "true"}))
    again = run("--failed")
    assert again.returncode == 1, again.stdout + again.stderr
    assert "PASS   added" in again.stdout and "FAIL   a" in again.stdout and "PASS   b\n" not in again.stdout
    records = store.load_records(tmp_path / "out" / "new")
    assert sorted(records) == ["a", "added", "b"] and records["b"]["carried_over"]
    # After a run of a selection, the rest of the testsuite was out of its scope: --failed leaves it out.
    assert run("a").returncode == 1
    (tmp_path / "tests" / "later").mkdir()
    (tmp_path / "tests" / "later" / "test.yaml").write_text(json.dumps({"cmd": "true"}))
    scoped = run("--failed")
    assert "FAIL   a" in scoped.stdout and "later" not in scoped.stdout and "PASS   added" not in scoped.stdout


def test_failed_does_not_carry_over_a_testcase_that_is_gone(tmp_path: Path) -> None:
    """A testcase directory removed since passed, carried over, in every later --failed run."""
    make_suite(tmp_path, {"a": {"cmd": "exit 1"}, "b": {"cmd": "true"}, "gone": {"cmd": "true"}})
    run = functools.partial(run_suite, tmp_path)

    assert run().returncode == 1
    (tmp_path / "tests" / "gone" / "test.yaml").unlink()
    (tmp_path / "tests" / "gone").rmdir()
    again = run("--failed")
    assert again.returncode == 1, again.stdout + again.stderr
    assert "e3suite: 1 testcase carried over from the previous run" in again.stdout
    assert sorted(store.load_records(tmp_path / "out" / "new")) == ["a", "b"]


def test_what_belongs_to_a_testcase_directory() -> None:
    dirs = {"a/b", "m"}
    assert [t for t in ("a/b", "a/b/check", "m[x=1]", "m[x=1]/sub", "a", "a/c", "mm", "x/m") if
            rerun._in_directories(t, dirs)] == ["a/b", "a/b/check", "m[x=1]", "m[x=1]/sub"]


def test_a_rerun_testcase_s_old_sub_results_are_not_carried(tmp_path: Path) -> None:
    entries = [
        {"test": test, "status": "PASS", "message": "", "duration": 0.1, "record": None}
        for test in ("a", "a/check", "a/deep/check", "ab/check", "b", "b/check")
    ]
    store.write_index(tmp_path, {"start": 1.0}, entries)
    carried = rerun.carried_over(tmp_path, {"a"}, None)
    assert [r.test_id for r in carried] == ["ab/check", "b", "b/check"]
    assert all(r.carried_over for r in carried)


def test_a_failed_run_killed_half_way_still_holds_what_it_carries_over(tmp_path: Path) -> None:
    """They were carried at the end of the run: killed before it, the run held the rerun testcases only, and
    its report and the next --failed lost every other result."""
    import signal

    from test_interrupt_run import finish, mark, wait_running

    text = mark()
    slow = tmp_path / "slow-now"
    make_suite(tmp_path, {"bad": {"cmd": f"test -f {slow} && sleep {text}; exit 1"}, "good": {"cmd": "true"}})
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.run(
        [sys.executable, "testsuite.py", "-j1"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 1, first.stdout + first.stderr
    slow.write_text("")
    proc = subprocess.Popen(
        [sys.executable, "testsuite.py", "-j1", "--failed"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_running(text, 1)
        journal = tmp_path / "out" / "new" / "journal.jsonl"
        deadline = time.monotonic() + 60
        while '"test":"good"' not in journal.read_text():  # written while "bad" still runs
            assert time.monotonic() < deadline, "the carried-over result never reached the journal"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        finish(proc, text)
    killed = store.load_run(tmp_path / "out" / "new")
    assert {e["test"]: e["status"] for e in killed.entries} == {"good": "PASS", "bad": "ERROR"}
    slow.unlink()
    again = subprocess.run(
        [sys.executable, "testsuite.py", "-j1", "--failed"], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=120,
    )
    assert "FAIL   bad" in again.stdout and "1 testcase carried over" in again.stdout, again.stdout


def test_a_signal_while_carrying_over_does_not_cut_a_result_in_half(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Between a carried result's index entry and the write of its record, Ctrl-C left an index naming a record
    that was never written: the report showed an unreadable record instead of the carried result."""
    import signal

    from e3suite import FragmentContext, TestDriver, TestStatus, Testsuite
    from e3suite.reports.data import load_report

    class Driver(TestDriver):
        def add_fragments(self) -> None:
            self.add_fragment("run", self.run)

        def run(self, ctx: FragmentContext) -> None:
            ctx.result.set_status(TestStatus.FAIL if self.test_env.get("fail") else TestStatus.PASS)

    class Suite(Testsuite):
        test_driver_map = {"d": Driver}
        default_driver = "d"

    for name, env in {"bad": '{"fail": true}', "good": "{}"}.items():
        (tmp_path / "tests" / name).mkdir(parents=True)
        (tmp_path / "tests" / name / "test.yaml").write_text(env)
    out = str(tmp_path / "out")
    assert Suite(tmp_path).main(["-j1", "--in-process", "-o", out, "--progress", "none"]) == 1
    real_queue = store.ResultsWriter._queue
    sent = []

    def queue_after_a_signal(self, write):  # type: ignore[no-untyped-def]
        if not sent and any(e.get("carried_over") for e in self.index):
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)  # its handler runs before the write is queued
        real_queue(self, write)

    monkeypatch.setattr(store.ResultsWriter, "_queue", queue_after_a_signal)
    code = Suite(tmp_path).main(["-j1", "--in-process", "-o", out, "--failed", "--progress", "none"])
    assert sent and code == 130
    results = {r.test_id: (r.status, r.carried_over) for r in load_report(tmp_path / "out" / "new").results}
    assert results == {"bad": (TestStatus.SKIP, False), "good": (TestStatus.PASS, True)}


def test_failed_after_a_run_its_set_up_stopped_reruns_what_that_run_did_not_run(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A set-up that stops the run (a usage error) gives each testcase an ERROR "not run: ...": --failed runs
    them all again (before, it took the failures of an empty run, none, carried everything over, ran nothing)."""
    from e3suite import FragmentContext, TestDriver, TestStatus, Testsuite
    from e3suite.testsuite import ConfigurationError

    class Driver(TestDriver):
        def add_fragments(self) -> None:
            self.add_fragment("run", self.run)

        def run(self, ctx: FragmentContext) -> None:
            ctx.result.set_status(TestStatus.FAIL if self.test_env.get("fail") else TestStatus.PASS)

    class Suite(Testsuite):
        test_driver_map = {"d": Driver}
        default_driver = "d"

    class Broken(Suite):
        def set_up(self) -> None:
            raise ConfigurationError("the compiler is missing")

    for name, env in {"bad": '{"fail": true}', "good": "{}"}.items():
        (tmp_path / "tests" / name).mkdir(parents=True)
        (tmp_path / "tests" / name / "test.yaml").write_text(env)
    argv = ["-j1", "--in-process", "-o", str(tmp_path / "out"), "--progress", "none"]
    assert Suite(tmp_path).main(argv) == 1
    assert Broken(tmp_path).main(argv) == 2
    capsys.readouterr()
    assert Suite(tmp_path).main([*argv, "--failed"]) == 1
    out = capsys.readouterr().out
    assert "FAIL   bad" in out and "PASS   good" in out and "carried over" not in out, out


def test_testcases_a_failure_limit_never_started_have_no_duration_in_the_history(tmp_path: Path) -> None:
    """Their 0 s made them the lightest of all when the next run balanced its shards with these durations."""
    import e3suite.shard as shard

    make_suite(tmp_path, {"a": {"cmd": "sleep 0.2; exit 1"}, "b": {"cmd": "true"}, "c": {"cmd": "true"}})
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = run_suite(tmp_path, "--max-failures", "1", "-o", "out")
    assert "SKIP   b: not run: failure limit reached" in first.stdout, first.stdout + first.stderr
    history = shard.results_durations(tmp_path / "out")
    assert history is not None and set(history[0]) == {"a"} and history[0]["a"] >= 0.2
    written = subprocess.run(
        [sys.executable, "-m", "e3suite", "report", "out", "--durations", "durations.json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert written.returncode == 0, written.stdout + written.stderr
    assert set(json.loads((tmp_path / "durations.json").read_text())) == {"a"}
