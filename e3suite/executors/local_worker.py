"""The code that runs inside a worker process of the local executor.

A worker is forked from the engine (so classes of the user's ``testsuite.py``
and ``drivers/`` unpickle as they are), hosts one slot, and runs one fragment
at a time: it receives a pickled ``FragmentTask`` on its pipe, runs it with
``run_fragment`` and sends back a message. After each fragment it kills
what the callback left running (a forked child, a process never waited
for: a leak, reported with the outcome) and puts back what the callback
may have changed in the process (working directory, environment, umask,
``sys.path``), so that testcases stay independent of the order they ran in.
When the engine dies, even by SIGKILL, the worker kills the command it
runs and everything its fragments started, and leaves without starting
the fragment queued behind.

It must never touch the results store, print reports or schedule anything;
and it never lets an exception escape as a traceback on the engine's
terminal: every problem becomes a message to the engine.
"""

from __future__ import annotations

import contextlib
import copy
import faulthandler
import fcntl
import os
import pickle
import signal
import struct
import sys
import tempfile
import time
import traceback
import types
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import e3suite.process as process
import e3suite.process_tree as process_tree
import e3suite.workdirs as workdirs
from e3suite.driver import ATTEMPT_VARIABLE, resource_environment
from e3suite.executors.base import (
    FragmentOutcome,
    FragmentTask,
    ProcessState,
    TaskFactory,
    WorkerExit,
    run_fragment,
)
from e3suite.model import FragmentState

#: Message kinds sent by a worker: ("outcome", FragmentOutcome) or
#: ("error", one-line reason, details) when the task could not be received
#: or its outcome could not be sent back.
OUTCOME = "outcome"
ERROR = "error"


#: Each task message starts with its ticket (8 bytes, little-endian): the
#: number of this submission, which the slot board knows it by.
HEADER = struct.Struct("<q")


class SlotBoard:
    """Memory shared by the engine and its workers: what each slot has started.

    The engine may queue a fragment behind the one a worker runs (so that the
    worker never waits for the engine between two fragments), and take it
    back when another slot falls idle. Under the slot's lock, a worker marks
    a fragment started unless the engine revoked it first, and the engine
    revokes a fragment only if it has not started: each queued fragment runs
    exactly once, or comes back to the engine unstarted.

    Submissions are known by their *ticket*, a number the engine gives each
    one: a fragment sent again (its next attempt) to the slot where it ran
    before is another submission, not started until its worker starts it.
    """

    def __init__(self, jobs: int, context: Any) -> None:
        self.started = context.RawArray("q", [-1] * jobs)  # ticket of the submission started last
        self.started_at = context.RawArray("d", jobs)  # its time.monotonic() start (system-wide clock)
        self.revoked = context.RawArray("q", [-1] * jobs)  # ticket of a queued one that must not start
        # One byte-range lock per slot in an unlinked file: POSIX record
        # locks are released by the kernel when their holder dies, so a
        # worker killed inside start() never leaves the engine blocked (a
        # multiprocessing.Lock would stay taken forever).
        self._lock_file = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the board

    @contextlib.contextmanager
    def _locked(self, slot: int) -> Iterator[None]:
        fd = self._lock_file.fileno()
        fcntl.lockf(fd, fcntl.LOCK_EX, 1, slot)
        try:
            yield
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, slot)

    def start(self, slot: int, ticket: int) -> bool:
        """Worker side: mark ``ticket`` started; False when the engine took it back."""
        with self._locked(slot):
            if self.revoked[slot] == ticket:
                self.revoked[slot] = -1
                return False
            self.started_at[slot] = time.monotonic()
            self.started[slot] = ticket
            return True

    def revoke(self, slot: int, ticket: int) -> bool:
        """Engine side: True when ``ticket``, queued on ``slot``, will never start there."""
        with self._locked(slot):
            if self.started[slot] == ticket or self.revoked[slot] != -1:
                return False
            self.revoked[slot] = ticket
            return True

    def start_time(self, slot: int, ticket: int) -> float | None:
        """When ``ticket`` started on ``slot`` (time.monotonic()), or None if it has not."""
        with self._locked(slot):
            return self.started_at[slot] if self.started[slot] == ticket else None

    def has_started(self, slot: int, ticket: int) -> bool:
        with self._locked(slot):
            return bool(self.started[slot] == ticket)

    def reset(self, slot: int) -> None:
        """A new worker takes the slot."""
        with self._locked(slot):
            self.started[slot] = -1
            self.revoked[slot] = -1


def worker_main(
    conn: Connection,
    slot: int,
    board: SlotBoard,
    inherited: tuple[int, ...] = (),
    factory: TaskFactory | None = None,
) -> None:
    """Serve fragments for ``slot`` until the pipe closes, an empty message arrives, or the engine dies.

    ``inherited``: the engine's ends of the other workers' pipes, which the
    fork copied here. They are closed first: a worker holding them would
    keep the other workers from ever seeing end-of-file when the engine dies.
    ``factory``: the engine's ``make_task``, in this copy of the engine, for
    tasks sent by reference (see ``MultiprocessScheduler.use_task_factory``).
    """
    for fd in inherited:
        with contextlib.suppress(OSError):
            os.close(fd)
    _reset_signals()
    # A crash is reported by the engine ("worker died (signal 11)..."); a
    # fault handler inherited from the engine would print over its report.
    faulthandler.disable()
    process.become_subreaper()
    workdirs.forget_spares()
    tag = process.tag_environment()
    _set_parent_death_signal()
    try:
        _serve(conn, slot, board, factory)
    except WorkerExit:
        # The engine is gone: whatever any fragment of ours started goes
        # too, wherever it is now (setsid, adopted by init): by its tag.
        process.kill_tagged(tag, passes=3)
        os._exit(128 + signal.SIGTERM)


def _serve(conn: Connection, slot: int, board: SlotBoard, factory: TaskFactory | None = None) -> None:
    # Commands inherit the attempt number from here: the common value is in
    # the snapshot, so only a retry's fragment makes restore() do anything.
    os.environ[ATTEMPT_VARIABLE] = "1"
    state = ProcessState()
    queued: bytes | None = None  # the message behind, read before the last outcome was sent
    queued_started = False
    while True:
        _check_engine()
        if queued is not None:
            data, started, queued = queued, queued_started, None
        else:
            data = _receive(conn)
            started = bool(data) and _start(board, slot, data)
        if not data:
            return
        if not started:
            continue  # taken back by the engine while it waited here
        message, fragment_id, spare = _run(memoryview(data)[HEADER.size :], slot, factory)
        leaks = process_tree.kill_leftover_children()
        if leaks:
            if message[0] == OUTCOME:
                message[1].leaks.extend(leaks)
        elif spare is not None:
            workdirs.recycle(spare)  # nothing of it runs any more: see workdirs
        try:
            payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            payload = pickle.dumps(_unsendable(message, fragment_id, exc), protocol=pickle.HIGHEST_PROTOCOL)
        # The fragment queued behind starts now, before this outcome goes:
        # the engine reading the outcome then finds it started (the progress
        # line and status file showed it queued until the engine's next look,
        # up to half a second).
        if conn.poll(0):
            queued = _receive(conn)
            queued_started = bool(queued) and _start(board, slot, queued)
        try:
            conn.send_bytes(payload)
        except (OSError, EOFError):
            raise WorkerExit from None
        state.restore()
        # Orphans adopted as subreaper that ended on their own: reap them
        # here, when no command of ours is running.
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] != 0:
                pass


def _receive(conn: Connection) -> bytes:
    try:
        return conn.recv_bytes()
    except (EOFError, OSError):
        raise WorkerExit from None  # the engine is gone


def _start(board: SlotBoard, slot: int, data: bytes) -> bool:
    """Mark the task ``data`` started; False when the engine took it back first."""
    _check_engine()  # it may have died while we waited, leaving this behind
    return board.start(slot, HEADER.unpack_from(data)[0])


def _check_engine() -> None:
    if os.getppid() != _engine_pid:
        raise WorkerExit


def _run(
    data: bytes | memoryview, slot: int, factory: TaskFactory | None
) -> tuple[tuple[Any, ...], str, Path | None]:
    """The message for the engine, the fragment's id (when known), a working directory to recycle."""
    try:
        task = pickle.loads(data)
        if isinstance(task, tuple):  # by reference: rebuilt from this copy of the plan
            assert factory is not None, "a task sent by reference to a worker without the plan"
            task = _rebuild(factory, *task)
    except Exception as exc:
        reason = f"cannot receive the fragment in its worker: {type(exc).__name__}: {exc}"
        return (ERROR, reason, traceback.format_exc()), "?", None
    if task.attempt != 1:
        os.environ[ATTEMPT_VARIABLE] = str(task.attempt)
    if task.resources:  # for processes its callback starts itself (put back after it)
        os.environ.update(resource_environment(task.resources))
    outcome = run_fragment(task, slot, propagate_interrupt=False)
    return (OUTCOME, outcome), task.fragment_id, task.working_dir if task.recycle_working_dir else None


def _rebuild(
    factory: TaskFactory,
    index: int,
    attempt: int,
    previous: dict[str, Any],
    result: Any,
    outcomes: dict[str, Any],
    resources: dict[str, list[int]],
    recycle: bool,
) -> FragmentTask:
    """A task sent by reference, with a driver of its own, as an unpickled one has.

    The plan's driver is copied (shallow), and its ``test_env`` mapping with
    it: what a fragment sets on its driver, or at the top of ``test_env``,
    is not seen by the next fragment this worker runs.
    """
    task = factory(
        index, previous=previous, result=result, attempt=attempt, outcomes=outcomes, resources=resources,
        recycle_working_dir=recycle,
    )
    planned_env = task.test_env
    task.test_env = dict(planned_env)
    callback = task.callback
    owner = getattr(callback, "__self__", None)
    function = getattr(callback, "__func__", None)
    if function is not None and owner is not None and not isinstance(owner, (type, types.ModuleType)):
        twin = copy.copy(owner)
        if getattr(twin, "test_env", None) is planned_env:
            twin.test_env = task.test_env
        task.callback = types.MethodType(function, twin)
    return task


def _unsendable(message: tuple[Any, ...], fragment_id: str, exc: Exception) -> tuple[Any, ...]:
    """The outcome could not be pickled: keep what can be sent, say what could not."""
    outcome = message[1]
    if isinstance(outcome, FragmentOutcome):
        # The usual culprit is the return value; the rest is plain data.
        what = "return value" if outcome.state is FragmentState.COMPLETE else "outcome"
        reason = f"the {what} of {fragment_id} cannot be sent back from its worker: {type(exc).__name__}: {exc}"
        outcome.return_value = None
        outcome.state = FragmentState.FAILED
        outcome.error = reason
        try:
            pickle.dumps(outcome)
            return (OUTCOME, outcome)
        except Exception:
            pass
        return (ERROR, reason, "")
    return (ERROR, f"cannot send a message back from the worker: {exc}", "")


def _reset_signals() -> None:
    global _engine_pid
    _engine_pid = os.getppid()
    # Ctrl-C reaches the whole foreground process group: the engine decides
    # what happens, the worker must not die with a KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)  # inherited from the engine: not ours


_engine_pid = 0


def _on_sigterm(signum: int, frame: object) -> None:
    if os.getppid() == _engine_pid:
        # A SIGTERM to the engine's whole process group: the engine stops
        # the run itself (grace period, verdicts); the worker must not die
        # under its fragment first.
        return
    # The engine is gone (PR_SET_PDEATHSIG): unwind the callback, so that
    # process.run kills the command it was running, and leave (never to
    # read the fragment queued behind it).
    raise WorkerExit


def _set_parent_death_signal() -> None:
    """If the engine dies (even SIGKILL), get SIGTERM, so commands do not run on."""
    import ctypes

    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the engine died before prctl took effect
        sys.exit(0)
