"""MultiprocessScheduler driven directly: outcomes, crashes, timeouts, slots, interruption.

Callbacks are module-level functions of this module: workers are forked from
the pytest process, so they unpickle as they would from a user's testsuite.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from e3suite.driver import FragmentContext
from e3suite.executors.base import FragmentOutcome, FragmentTask
from e3suite.executors.local import MultiprocessScheduler
from e3suite.executors.local_worker import SlotBoard
from e3suite.model import FailureReason, FragmentState, TestResult, TestStatus

# -- callbacks (module level: picklable) ------------------------------------------


def return_previous(ctx: FragmentContext) -> Any:
    # Even fragments use their working directory, odd ones do not.
    made = ctx.working_dir.is_dir() if ctx.previous["build"] % 20 == 0 else None
    return {"slot": ctx.slot, "previous": ctx.previous, "pid": os.getpid(), "made": made}


def set_pass(ctx: FragmentContext) -> None:
    ctx.result.set_status(TestStatus.PASS, "fine")
    ctx.result.log += "logged\n"


def raise_error(ctx: FragmentContext) -> None:
    raise ValueError("bad value")


def exit_3(ctx: FragmentContext) -> None:
    os._exit(3)


def segfault(ctx: FragmentContext) -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def spin(ctx: FragmentContext) -> None:
    while True:
        pass


def return_lambda(ctx: FragmentContext) -> Any:
    return lambda: None


def sleep_briefly(ctx: FragmentContext) -> tuple[int, float, float]:
    start = time.monotonic()
    time.sleep(0.05)
    return ctx.slot, start, time.monotonic()


def shell_sleep(ctx: FragmentContext) -> None:
    ctx.shell(["sleep", ctx.test_env["mark"]])


def raw_subprocess_sleep(ctx: FragmentContext) -> str:
    """A command the callback runs itself (not ctx.shell): nothing but the worker's kill ends it."""
    subprocess.run(["sleep", ctx.test_env["mark"]], check=False)
    return "returned"


def shell_then_worker_dies(ctx: FragmentContext) -> None:
    m = ctx.test_env["mark"]
    # The command kills its worker ($PPID) while it and its children run.
    ctx.shell(f"sleep {m} & (setsid sleep {m} &); kill -SEGV $PPID; sleep {m}")


def sleep_for(ctx: FragmentContext) -> float:
    time.sleep(ctx.test_env["seconds"])
    return time.monotonic()


def shell_grandchild(ctx: FragmentContext) -> None:
    # "; true": sh must wait for sleep, not become it (dash execs a last command).
    ctx.shell(["sh", "-c", f"sleep {ctx.test_env['mark']}; true"])


def chdir_and_setenv(ctx: FragmentContext) -> None:
    os.chdir("/")
    os.environ["E3SUITE_TEST_LEFTOVER"] = "1"


def report_cwd_env(ctx: FragmentContext) -> tuple[str, str | None]:
    return os.getcwd(), os.environ.get("E3SUITE_TEST_LEFTOVER")


# -- helpers ------------------------------------------------------------------------


def make_task(index: int, callback: Any, tmp: Path, timeout: float | None = None, **env: Any) -> FragmentTask:
    test_id = f"a/t{index}"
    return FragmentTask(
        index=index,
        fragment_id=f"{test_id}:run",
        test_id=test_id,
        name="run",
        callback=callback,
        test_env=dict(env),
        test_dir=tmp,
        working_dir=tmp / "work" / str(index),
        options=argparse.Namespace(kill_grace=0.5),
        previous={"build": index * 10},
        result=TestResult(test_id),
        timeout=timeout,
    )


def run_all(
    scheduler: MultiprocessScheduler, tasks: list[FragmentTask], limit: float = 60
) -> dict[int, FragmentOutcome]:
    """Submit as slots free up, collect every outcome, as the engine does (READY means submit again)."""
    pending = list(tasks)
    by_index = {task.index: task for task in tasks}
    outcomes: dict[int, FragmentOutcome] = {}
    deadline = time.monotonic() + limit
    while len(outcomes) < len(tasks):
        assert time.monotonic() < deadline, f"outcomes missing: {len(outcomes)}/{len(tasks)}"
        while pending and scheduler.free_slots() > 0:
            scheduler.submit(pending.pop(0))
        if not pending and scheduler.idle_slots() > 0:
            # The engine's admission policy: a worker is idle, nothing else is
            # ready, so what waits in a busy worker's queue comes back.
            pending.extend(by_index[o.index] for o in scheduler.take_back_queued())
            while pending and scheduler.free_slots() > 0:
                scheduler.submit(pending.pop(0))
        for outcome in scheduler.wait(0.5):
            assert outcome.index not in outcomes
            if outcome.state is FragmentState.READY:
                pending.insert(0, by_index[outcome.index])
            else:
                outcomes[outcome.index] = outcome
    return outcomes


@pytest.fixture
def scheduler() -> Iterator[MultiprocessScheduler]:
    sched = MultiprocessScheduler(2, kill_grace=0.5)
    sched.start()
    yield sched
    sched.shutdown()
    me = psutil.Process()
    deadline = time.monotonic() + 5
    while [c for c in me.children(recursive=True) if _alive(c)]:
        assert time.monotonic() < deadline, "the scheduler left processes behind"
        time.sleep(0.05)


def _alive(proc: psutil.Process) -> bool:
    """Running and no zombie; one that ends while we look is gone (not an error of the test)."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def mark() -> str:
    return f"{400 + (uuid.uuid4().int % 10_000) / 1000:.3f}"


def survivors(text: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if text in (proc.info["cmdline"] or []) and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


# -- tests ------------------------------------------------------------------------------


def test_return_values_and_previous_cross_processes(scheduler: MultiprocessScheduler, tmp_path: Path) -> None:
    outcomes = run_all(scheduler, [make_task(i, return_previous, tmp_path) for i in range(4)])
    for index, outcome in outcomes.items():
        assert outcome.state is FragmentState.COMPLETE
        value = outcome.return_value
        assert value["previous"] == {"build": index * 10}
        assert value["pid"] != os.getpid()
        assert value["slot"] == outcome.slot
        # A working directory is made when a callback first uses it, only then.
        assert value["made"] is (True if index % 2 == 0 else None)
        assert (tmp_path / "work" / str(index)).is_dir() is (index % 2 == 0)


def test_result_changes_come_back_as_a_delta(scheduler: MultiprocessScheduler, tmp_path: Path) -> None:
    outcome = run_all(scheduler, [make_task(0, set_pass, tmp_path)])[0]
    assert outcome.state is FragmentState.COMPLETE
    assert [(v.status, v.message) for v in outcome.delta.verdicts] == [(TestStatus.PASS, "fine")]
    assert outcome.delta.log == "logged\n"


def test_raising_callback_is_a_failed_outcome(scheduler: MultiprocessScheduler, tmp_path: Path) -> None:
    outcome = run_all(scheduler, [make_task(0, raise_error, tmp_path)])[0]
    assert outcome.state is FragmentState.FAILED
    assert outcome.error == "a/t0:run raised ValueError: bad value"
    assert "bad value" in outcome.details


@pytest.mark.parametrize(("callback", "cause"), [(exit_3, "exit status 3"), (segfault, "signal 11")])
def test_worker_death_is_reported_and_the_slot_recovers(
    scheduler: MultiprocessScheduler, tmp_path: Path, callback: Any, cause: str
) -> None:
    tasks = [make_task(0, callback, tmp_path)] + [make_task(i, return_previous, tmp_path) for i in range(1, 5)]
    outcomes = run_all(scheduler, tasks)
    assert outcomes[0].state is FragmentState.FAILED
    assert outcomes[0].error == f"worker died ({cause}) while running a/t0:run"
    assert all(outcomes[i].state is FragmentState.COMPLETE for i in range(1, 5))


def test_a_callback_stuck_in_python_times_out(scheduler: MultiprocessScheduler, tmp_path: Path) -> None:
    start = time.monotonic()
    outcomes = run_all(scheduler, [make_task(0, spin, tmp_path, timeout=0.5), make_task(1, return_previous, tmp_path)])
    assert time.monotonic() - start < 30
    assert outcomes[0].state is FragmentState.TIMEDOUT
    assert outcomes[0].error == "timed out after 0.5 s"
    assert outcomes[0].failure_reason is FailureReason.TIMEOUT
    # The slot works again with a fresh worker.
    again = run_all(scheduler, [make_task(i, return_previous, tmp_path) for i in range(2, 6)])
    assert all(o.state is FragmentState.COMPLETE for o in again.values())


def test_a_timed_out_callback_running_its_own_command_never_completes(tmp_path: Path) -> None:
    """Its worker dies before the command: the callback, returning when its command was killed, reported COMPLETE.

    (A race, seen once in ten runs at -j3: the kill's order decided it.)
    """
    sched = MultiprocessScheduler(3, kill_grace=0.1)
    sched.start()
    text = mark()
    try:
        tasks = [make_task(i, raw_subprocess_sleep, tmp_path, timeout=0.5, mark=text) for i in range(3)]
        outcomes = run_all(sched, tasks)
    finally:
        sched.shutdown()
    assert {o.state for o in outcomes.values()} == {FragmentState.TIMEDOUT}
    assert survivors(text) == []


def test_a_command_timeout_through_ctx_shell(scheduler: MultiprocessScheduler, tmp_path: Path) -> None:
    text = mark()
    outcome = run_all(scheduler, [make_task(0, shell_sleep, tmp_path, timeout=0.5, mark=text)])[0]
    assert outcome.state is FragmentState.TIMEDOUT
    assert outcome.error == "timed out after 0.5 s"
    [command] = outcome.delta.processes
    assert command["timed_out"] is True
    assert command["argv"] == ["sleep", text]
    assert survivors(text) == []


def test_unpicklable_callback_is_an_error_naming_the_fragment(scheduler: MultiprocessScheduler, tmp_path: Path) -> None:
    outcome = run_all(scheduler, [make_task(0, lambda ctx: None, tmp_path)])[0]
    assert outcome.state is FragmentState.FAILED
    assert outcome.error is not None
    assert outcome.error.startswith("cannot send a/t0:run to a worker process:")
    assert scheduler.free_slots() == 2


def test_unpicklable_return_value_is_an_error(scheduler: MultiprocessScheduler, tmp_path: Path) -> None:
    outcome = run_all(scheduler, [make_task(0, return_lambda, tmp_path)])[0]
    assert outcome.state is FragmentState.FAILED
    assert outcome.error is not None
    assert outcome.error.startswith("the return value of a/t0:run cannot be sent back from its worker:")


def test_slots_are_unique_among_running_fragments(tmp_path: Path) -> None:
    sched = MultiprocessScheduler(3)
    sched.start()
    try:
        outcomes = run_all(sched, [make_task(i, sleep_briefly, tmp_path) for i in range(24)])
    finally:
        sched.shutdown()
    spans: dict[int, list[tuple[float, float]]] = {}
    for outcome in outcomes.values():
        slot, start, end = outcome.return_value
        assert slot == outcome.slot
        assert 0 <= slot < 3
        spans.setdefault(slot, []).append((start, end))
    for slot_spans in spans.values():
        slot_spans.sort()
        for (_, end), (next_start, _) in itertools.pairwise(slot_spans):
            assert end <= next_start


def test_callbacks_do_not_leak_cwd_or_environment(tmp_path: Path) -> None:
    sched = MultiprocessScheduler(1)
    sched.start()
    try:
        run_all(sched, [make_task(0, chdir_and_setenv, tmp_path)])
        outcome = run_all(sched, [make_task(1, report_cwd_env, tmp_path)])[1]
    finally:
        sched.shutdown()
    assert outcome.return_value == (os.getcwd(), None)


def test_interrupt_ends_running_commands(tmp_path: Path) -> None:
    sched = MultiprocessScheduler(2, kill_grace=0.5)
    sched.start()
    text = mark()
    try:
        for i in range(2):
            sched.submit(make_task(i, shell_sleep, tmp_path, mark=text))
        deadline = time.monotonic() + 20
        while len(survivors(text)) < 2:
            assert time.monotonic() < deadline
            assert sched.wait(0.05) == []
        outcomes = sched.interrupt()
    finally:
        sched.shutdown()
    assert sorted(o.index for o in outcomes) == [0, 1]
    assert {o.state for o in outcomes} == {FragmentState.ABORTED}
    assert {o.error for o in outcomes} == {"interrupted"}
    assert survivors(text) == []


def test_interrupt_tells_the_running_fragment_from_the_one_queued_behind(tmp_path: Path) -> None:
    """The queued one is given back unstarted, even though its worker is free once SIGTERM ends the command.

    Before: the worker started the queued fragment in the grace period
    (marking it started), and the interruption then reported that one as
    interrupted and the one that had been running as never started.
    """
    sched = MultiprocessScheduler(1, kill_grace=5)
    sched.start()
    text = mark()
    try:
        sched.submit(make_task(0, shell_sleep, tmp_path, mark=text))
        sched.submit(make_task(1, shell_sleep, tmp_path, mark=text))  # queued behind it
        deadline = time.monotonic() + 20
        while len(survivors(text)) < 1 or not sched.take_started():
            assert time.monotonic() < deadline
            assert sched.wait(0.05) == []
        outcomes = {o.index: o for o in sched.interrupt()}
    finally:
        sched.shutdown()
    assert {i: o.state for i, o in outcomes.items()} == {0: FragmentState.ABORTED, 1: FragmentState.READY}
    assert survivors(text) == []


def test_commands_of_a_dead_worker_are_killed(scheduler: MultiprocessScheduler, tmp_path: Path) -> None:
    text = mark()
    outcome = run_all(scheduler, [make_task(0, shell_then_worker_dies, tmp_path, mark=text)])[0]
    assert outcome.error == "worker died (signal 11) while running a/t0:run"
    deadline = time.monotonic() + 5
    while survivors(text) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert survivors(text) == []


def test_a_queued_fragment_moves_to_a_slot_that_falls_idle(tmp_path: Path) -> None:
    sched = MultiprocessScheduler(2)
    sched.start()
    try:
        tasks = [
            make_task(0, sleep_for, tmp_path, seconds=1.5),  # slot 0, long
            make_task(1, sleep_for, tmp_path, seconds=0.0),  # slot 1, short
            make_task(2, sleep_for, tmp_path, seconds=0.0),  # queued behind the long one at first
        ]
        outcomes = run_all(sched, tasks)
    finally:
        sched.shutdown()
    assert all(o.state is FragmentState.COMPLETE for o in outcomes.values())
    # Taken back from behind the long fragment, it ran on the idle slot.
    assert outcomes[2].slot == 1
    assert outcomes[2].return_value < outcomes[0].return_value


def test_a_queued_fragment_times_out_from_its_real_start(tmp_path: Path) -> None:
    sched = MultiprocessScheduler(1)
    sched.start()
    try:
        tasks = [
            make_task(0, sleep_for, tmp_path, seconds=0.8),
            make_task(1, sleep_for, tmp_path, timeout=0.6, seconds=0.1),  # queued for 0.8 s, runs 0.1 s
        ]
        outcomes = run_all(sched, tasks)
    finally:
        sched.shutdown()
    assert outcomes[1].state is FragmentState.COMPLETE


def test_without_queue_ahead_one_fragment_per_slot(tmp_path: Path) -> None:
    sched = MultiprocessScheduler(2, queue_ahead=False)
    sched.start()
    try:
        assert sched.free_slots() == 2
        sched.submit(make_task(0, sleep_for, tmp_path, seconds=0.0))
        sched.submit(make_task(1, sleep_for, tmp_path, seconds=0.0))
        assert sched.free_slots() == 0
        done: list[FragmentOutcome] = []
        deadline = time.monotonic() + 30
        while len(done) < 2 and time.monotonic() < deadline:
            done.extend(sched.wait(0.5))
        assert sched.free_slots() == 2
    finally:
        sched.shutdown()
    assert sorted(o.index for o in done) == [0, 1]


def test_queue_ahead_doubles_what_submit_accepts(tmp_path: Path) -> None:
    sched = MultiprocessScheduler(2)
    sched.start()
    try:
        for i in range(4):
            sched.submit(make_task(i, sleep_for, tmp_path, seconds=0.3))
        assert sched.free_slots() == 0
        done: list[FragmentOutcome] = []
        deadline = time.monotonic() + 30
        while len(done) < 4 and time.monotonic() < deadline:
            done.extend(sched.wait(0.5))
    finally:
        sched.shutdown()
    assert sorted(o.index for o in done) == [0, 1, 2, 3]
    assert {o.state for o in done} == {FragmentState.COMPLETE}


def test_a_worker_dying_idle_is_replaced_without_duplicating_its_slot(tmp_path: Path) -> None:
    sched = MultiprocessScheduler(2)
    sched.start()
    try:
        # Workers start with their first fragment: two at once start both.
        run_all(sched, [make_task(i, sleep_for, tmp_path, seconds=0.3) for i in range(2)])
        worker = sched._workers[1]
        assert worker is not None
        os.kill(worker.pid, signal.SIGKILL)  # the OOM killer, say
        deadline = time.monotonic() + 10
        while sched._workers[1] is not None and time.monotonic() < deadline:
            assert sched.wait(0.1) == []
        assert sched._workers[1] is None
        assert sched.free_slots() == 2
        outcomes = run_all(sched, [make_task(i, sleep_briefly, tmp_path) for i in range(6)])
    finally:
        sched.shutdown()
    assert {o.state for o in outcomes.values()} == {FragmentState.COMPLETE}
    assert {o.slot for o in outcomes.values()} <= {0, 1}


def hold_slot_lock_forever(board: Any) -> None:
    with board._locked(0):
        time.sleep(300)


def test_a_worker_killed_holding_its_slot_lock_does_not_block_the_engine() -> None:
    context = multiprocessing.get_context("fork")
    board = SlotBoard(1, context)
    holder = context.Process(target=hold_slot_lock_forever, args=(board,))
    holder.start()
    time.sleep(0.3)  # let it take the lock
    assert holder.pid is not None
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    answer: list[bool] = []
    thread = threading.Thread(target=lambda: answer.append(board.has_started(0, 7)), daemon=True)
    thread.start()
    thread.join(10)
    assert answer == [False]


def test_a_retry_on_the_same_slot_starts_when_it_really_starts(tmp_path: Path) -> None:
    """A fragment sent again (its next attempt) is not taken for the attempt that ran there before.

    Before, the slot board knew fragments by index: the engine saw the retry
    as started at its first attempt's start, and killed it at once when
    that attempt had lasted longer than the retry's timeout.
    """
    sched = MultiprocessScheduler(1, kill_grace=0.5)
    sched.start()
    try:
        first = run_all(sched, [make_task(0, sleep_for, tmp_path, seconds=0.6)])[0]
        assert first.state is FragmentState.COMPLETE
        retry = make_task(0, sleep_for, tmp_path, timeout=0.5, seconds=0.05)
        retry.attempt = 2
        sched.submit(retry)
        started: list[float] = []
        outcomes: list[FragmentOutcome] = []
        deadline = time.monotonic() + 30
        while not outcomes:
            assert time.monotonic() < deadline
            outcomes = sched.wait(0.2)
            started += [s.time for s in sched.take_started()]
    finally:
        sched.shutdown()
    [second] = outcomes
    assert second.state is FragmentState.COMPLETE, second.error
    assert second.start >= first.end
    assert all(at >= first.end for at in started)


def test_a_timed_out_command_whose_shell_had_children_ends_without_waiting_the_grace(tmp_path: Path) -> None:
    """Its grandchild, orphaned to the worker (a subreaper) when sh dies, is reaped, not waited for as if alive."""
    sched = MultiprocessScheduler(1, kill_grace=20)
    sched.start()
    text = mark()
    task = make_task(0, shell_grandchild, tmp_path, timeout=0.5, mark=text)
    task.options = argparse.Namespace(kill_grace=20)  # ctx.shell's grace after its SIGTERM
    try:
        outcome = run_all(sched, [task])[0]
    finally:
        sched.shutdown()
    assert outcome.state is FragmentState.TIMEDOUT
    assert outcome.end - outcome.start < 10, "the whole kill grace was waited for dead processes"
    assert survivors(text) == []


def test_a_start_is_told_while_the_fragment_runs(tmp_path: Path) -> None:
    """The progress line and the status file count a fragment as running once it is, not at the next outcome.

    Sent to an idle worker: the engine looks again shortly (wait() returns with
    no outcome). Queued behind another: its worker marks it started before
    sending the outcome of the one before, so the same wait tells both.
    """
    sched = MultiprocessScheduler(1, kill_grace=0.5)
    sched.start()
    try:
        sched.submit(make_task(0, sleep_for, tmp_path, seconds=30))
        deadline = time.monotonic() + 30
        started: list[int] = []
        while not started:
            assert time.monotonic() < deadline, "the start of fragment 0 was never told"
            assert sched.wait(None) == []  # no outcome: fragment 0 sleeps for 30 s
            started = [s.index for s in sched.take_started()]
        assert started == [0]
        sched.interrupt()

        sched.submit(make_task(1, sleep_for, tmp_path, seconds=0.2))
        sched.submit(make_task(2, sleep_for, tmp_path, seconds=30))  # queued behind 1
        told: list[int] = []
        while 1 not in told:
            told.extend(s.index for s in sched.take_started())
            outcomes = sched.wait(None)
            if outcomes:
                assert [o.index for o in outcomes] == [1]
                told.extend(s.index for s in sched.take_started())
                assert 2 in told, "fragment 2, started behind 1, was not told with 1's outcome"
                break
        sched.interrupt()
    finally:
        sched.shutdown()
