"""FragmentContext.shell: defaults, what it records in the result, timeouts and leaks."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from e3suite.driver import FragmentContext
from e3suite.executors.base import FragmentTask, run_fragment
from e3suite.model import FailureReason, FragmentState, TestResult


def make_ctx(tmp_path: Path, timeout: float | None = None) -> FragmentContext:
    return FragmentContext(
        slot=0,
        previous={},
        test_env={},
        test_dir=tmp_path,
        working_dir=tmp_path,
        options=argparse.Namespace(kill_grace=0.2),
        result=TestResult("a/b"),
        test_id="a/b",
        fragment_id="a/b:run",
        timeout=timeout,
    )


def test_defaults_cwd_and_records_the_command(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    result = ctx.shell("pwd; echo $EXTRA", env={"EXTRA": "added"})
    assert result.output == f"{tmp_path}\nadded\n"
    [record] = ctx.result.processes
    assert record["argv"] == ["/bin/sh", "-c", "pwd; echo $EXTRA"]
    assert record["status"] == 0
    assert record["cwd"] == str(tmp_path)
    assert ctx.timed_out is None
    assert ctx.result.log == ""


def test_timeout_defaults_to_what_is_left_of_the_fragment(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, timeout=0.5)
    start = time.monotonic()
    result = ctx.shell(["sleep", "30"])
    assert time.monotonic() - start < 20
    assert result.timed_out
    assert result.timeout is not None and result.timeout <= 0.5
    assert ctx.timed_out == "timed out after 0.5 s"
    assert FailureReason.TIMEOUT in ctx.result.failure_reasons


def test_explicit_timeout_is_the_one_reported(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, timeout=60)
    ctx.shell(["sleep", "30"], timeout=0.3)
    assert ctx.timed_out == "timed out after 0.3 s"


def test_a_leak_is_noted_in_the_log(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    result = ctx.shell("sleep 30 > /dev/null 2>&1 &")
    assert result.leaked == 1
    assert len(result.leaked_processes) == 1 and result.leaked_processes[0].endswith(" (sleep 30)")
    assert ctx.result.log == (
        "/bin/sh -c sleep 30 > /dev/null 2>&1 &: exit status 0; left 1 process running (killed): "
        f"{result.leaked_processes[0]}\n"
    )
    assert FailureReason.LEAK in ctx.result.failure_reasons


def shell_sleep(ctx: FragmentContext) -> str:
    ctx.shell(["sleep", "30"])
    return "finished"


def test_run_fragment_turns_a_command_timeout_into_a_timedout_outcome(tmp_path: Path) -> None:
    task = FragmentTask(
        index=3, fragment_id="a/b:run", test_id="a/b", name="run", callback=shell_sleep, test_env={},
        test_dir=tmp_path, working_dir=tmp_path / "wd", options=argparse.Namespace(kill_grace=0.2),
        previous={}, result=TestResult("a/b"), timeout=0.4,
    )
    outcome = run_fragment(task, 0)
    assert outcome.state is FragmentState.TIMEDOUT
    assert outcome.error == "timed out after 0.4 s"
    assert outcome.failure_reason is FailureReason.TIMEOUT
    assert outcome.delta.processes[0]["timed_out"] is True
