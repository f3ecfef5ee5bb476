"""The local executor: N slots, one persistent worker process per slot.

Why persistent workers fed over a pipe rather than a fork per fragment: the
per-fragment cost is two small pickles and two pipe writes (~0.05 ms) instead
of a fork of the engine, whose cost grows with the plan (2.2 ms/fragment from
a 42 MiB engine, 4.2 ms from a 150 MiB one; see docs/performance.md and
tests/bench/worker_models.py). Crashes stay isolated: a worker that dies
takes only its own fragment with it and is replaced before the slot's next
fragment.

Completion is event-driven: ``wait`` blocks in one ``poll`` object that
watches the workers' pipes, their sentinels (process exit) and the engine's
signal wake-up fd, so a freed slot is refilled at once and Ctrl-C is seen at
once. Its timeout is only the next fragment deadline, for housekeeping.

This module never decides verdicts, never writes results and never prints:
it reports how each fragment ended as a ``FragmentOutcome``.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import pickle
import select
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from e3suite import process
from e3suite.executors.base import FragmentOutcome, FragmentTask
from e3suite.executors.local_worker import ERROR, OUTCOME, worker_main
from e3suite.model import FailureReason, FragmentState

#: After a fragment's deadline, a worker that runs commands gets this long
#: besides the kill grace to end them itself (ctx.shell stops them at the
#: deadline, output kept) before the whole worker is killed.
COMMAND_MARGIN = 1.0


@dataclass
class _Running:
    task: FragmentTask
    start: float  # time.time(), for the outcome
    deadline: float | None  # time.monotonic() when the fragment's timeout expires
    hard_deadline: float | None  # when the worker is killed whatever it does


class _Worker:
    """One worker process and the engine's end of its pipe."""

    def __init__(self, slot: int, context: multiprocessing.context.BaseContext) -> None:
        self.slot = slot
        parent_end, child_end = context.Pipe(duplex=True)
        self.conn: Connection = parent_end
        self.process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=worker_main, args=(child_end, slot), name=f"e3suite-worker-{slot}", daemon=True
        )
        self.process.start()
        child_end.close()
        assert self.process.pid is not None
        self.pid: int = self.process.pid

    @property
    def sentinel(self) -> int:
        return self.process.sentinel

    def death_cause(self) -> str:
        """'signal 11' or 'exit status 3', once the process has ended."""
        self.process.join(1.0)
        code = self.process.exitcode
        if code is None:
            return "unknown cause"
        if code < 0:
            return f"signal {-code}"
        return f"exit status {code}"

    def stop(self) -> None:
        """Ask it to leave (an empty message), then make sure it did."""
        with contextlib.suppress(OSError):
            self.conn.send_bytes(b"")
        self.process.join(2.0)
        if self.process.is_alive():
            process.kill_process_tree(self.pid, grace=0, tag=f"{self.pid}:")
            self.process.join()
        self.conn.close()


class MultiprocessScheduler:
    """Runs fragments in ``jobs`` slots, each hosting a persistent worker process."""

    def __init__(self, jobs: int, kill_grace: float = 2.0) -> None:
        self.jobs = max(1, jobs)
        self.kill_grace = kill_grace
        # fork: workers inherit the engine's loaded modules, so callbacks
        # defined in the user's testsuite.py (__main__) and drivers unpickle.
        self._context = multiprocessing.get_context("fork")
        self._workers: list[_Worker | None] = [None] * self.jobs
        self._free = list(range(self.jobs - 1, -1, -1))  # pop() gives slot 0 first
        self._running: dict[int, _Running] = {}  # slot -> what runs there
        self._ready: list[FragmentOutcome] = []  # outcomes known without waiting
        self._wakeup_fd: int | None = None
        self._hurry = False
        self._dead_pids: list[int] = []  # workers gone: a last sweep of their orphans at the end
        self._poller = select.poll()
        self._fd_slot: dict[int, int] = {}  # worker pipe or sentinel -> slot

    # -- Executor protocol -------------------------------------------------

    def start(self) -> None:
        for slot in range(self.jobs):
            self._start_worker(slot)

    def set_wakeup_fd(self, fd: int | None) -> None:
        """A file descriptor that becomes readable when a signal arrives (see signal.set_wakeup_fd)."""
        if self._wakeup_fd is not None:
            self._poller.unregister(self._wakeup_fd)
        self._wakeup_fd = fd
        if fd is not None:
            self._poller.register(fd, select.POLLIN)

    def hurry(self) -> None:
        """Cut any grace period short (a second Ctrl-C)."""
        self._hurry = True

    def free_slots(self) -> int:
        return len(self._free)

    def submit(self, task: FragmentTask) -> None:
        slot = self._free.pop()
        now = time.monotonic()
        deadline = now + task.timeout if task.timeout is not None else None
        try:
            data = pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            self._free.append(slot)
            self._ready.append(self._failed(task, slot, time.time(), _unpicklable(task, exc)))
            return
        worker = self._workers[slot]
        if worker is None or not worker.process.is_alive():
            self._forget_worker(slot)  # it died while idle (OOM killer...)
            worker = self._start_worker(slot)
        self._running[slot] = _Running(task, time.time(), deadline, None)
        with contextlib.suppress(OSError):  # it died meanwhile: its sentinel says so in wait()
            worker.conn.send_bytes(data)

    def wait(self, timeout: float | None) -> list[FragmentOutcome]:
        outcomes, self._ready = self._ready, []
        if outcomes:
            timeout = 0
        now = time.monotonic()
        next_deadline = self._next_deadline()
        if next_deadline is not None:
            until = max(0.0, next_deadline - now)
            timeout = until if timeout is None else min(timeout, until)
        events = self._poller.poll(None if timeout is None else math.ceil(timeout * 1000))
        readable: dict[int, bool] = {}  # slot -> its pipe is readable (else: only its sentinel)
        for fd, _ in events:
            if fd == self._wakeup_fd:
                _drain(fd)
                continue
            slot = self._fd_slot.get(fd)
            if slot is not None:
                worker = self._workers[slot]
                assert worker is not None
                readable[slot] = readable.get(slot, False) or fd == worker.conn.fileno()
        for slot, pipe_readable in readable.items():
            worker = self._workers[slot]
            assert worker is not None
            if slot in self._running:
                outcome = self._receive(slot, worker, pipe_readable)
                if outcome is not None:
                    outcomes.append(outcome)
            elif not worker.process.is_alive():
                self._forget_worker(slot)  # died while idle: replaced at the next submit
        outcomes.extend(self._expire(time.monotonic()))
        return outcomes

    def interrupt(self) -> list[FragmentOutcome]:
        """Terminate every running fragment's tree (grace, then kill): ABORTED outcomes."""
        outcomes = self._ready
        self._ready = []
        if not self._running:
            return outcomes
        workers = [self._workers[slot] for slot in self._running]
        pids = [w.pid for w in workers if w is not None]
        try:
            grace = 0.0 if self._hurry else self.kill_grace
            process.kill_process_tree(pids, grace=grace, hurry=lambda: self._hurry)
        except KeyboardInterrupt:
            process.kill_process_tree(pids, grace=0)
        now = time.time()
        for slot, running in list(self._running.items()):
            index = running.task.index
            aborted = FragmentOutcome(index, FragmentState.ABORTED, slot, running.start, now, error="interrupted")
            outcomes.append(aborted)
            self._forget_worker(slot)
            self._release(slot)
        return outcomes

    def shutdown(self) -> None:
        for slot, worker in enumerate(self._workers):
            if worker is None:
                continue
            if slot in self._running:
                process.kill_process_tree(worker.pid, grace=0)
            self._unwatch(worker)
            worker.stop()
            self._workers[slot] = None
        self._running.clear()
        # Orphans of workers that died or were killed, which init adopted.
        self._sweep(self._dead_pids)
        self._dead_pids.clear()

    # -- internals -------------------------------------------------------------

    def _receive(self, slot: int, worker: _Worker, pipe_readable: bool) -> FragmentOutcome | None:
        running = self._running[slot]
        message: Any = None
        try:
            if pipe_readable or worker.conn.poll():
                message = pickle.loads(worker.conn.recv_bytes())
        except (EOFError, OSError):
            message = None
        except Exception as exc:
            message = (ERROR, f"the outcome of the fragment cannot be received from its worker: {exc}", "")
        if message is None:
            if worker.process.is_alive():
                return None  # woken by something else; keep waiting
            cause = worker.death_cause()
            self._forget_worker(slot)
            self._release(slot)
            # Its commands were orphaned to init: find them by their tag now,
            # rather than let them run on until the end of the run.
            self._sweep([worker.pid])
            return self._failed(
                running.task, slot, running.start, f"worker died ({cause}) while running {running.task.fragment_id}"
            )
        self._release(slot)
        if message[0] == OUTCOME:
            outcome: FragmentOutcome = message[1]
            return outcome
        assert message[0] == ERROR
        error = f"{running.task.fragment_id}: {message[1]}"
        return self._failed(running.task, slot, running.start, error, details=message[2])

    def _expire(self, now: float) -> list[FragmentOutcome]:
        """Fragments past their deadline: kill and replace their worker."""
        outcomes = []
        for slot, running in list(self._running.items()):
            if running.deadline is None or now < running.deadline:
                continue
            worker = self._workers[slot]
            assert worker is not None
            if running.hard_deadline is None:
                # A callback stuck in Python is stopped at once; one running
                # commands gets the time to stop them itself (output kept).
                busy = _has_children(worker.pid)
                running.hard_deadline = running.deadline + (self.kill_grace + COMMAND_MARGIN if busy else 0.0)
            if now < running.hard_deadline:
                continue
            process.kill_process_tree(worker.pid, grace=0)
            self._forget_worker(slot)
            self._release(slot)
            timeout = running.task.timeout
            outcomes.append(
                FragmentOutcome(
                    running.task.index,
                    FragmentState.TIMEDOUT,
                    slot,
                    running.start,
                    time.time(),
                    error=f"timed out after {timeout} s",
                    failure_reason=FailureReason.TIMEOUT,
                )
            )
        return outcomes

    def _next_deadline(self) -> float | None:
        times = [
            r.hard_deadline if r.hard_deadline is not None else r.deadline
            for r in self._running.values()
            if r.deadline is not None
        ]
        return min(t for t in times if t is not None) if times else None

    def _release(self, slot: int) -> None:
        del self._running[slot]
        self._free.append(slot)

    def _start_worker(self, slot: int) -> _Worker:
        worker = self._workers[slot] = _Worker(slot, self._context)
        # One poll object for the whole run: multiprocessing's wait() builds
        # a selector and registers every handle at each call.
        for fd in (worker.conn.fileno(), worker.sentinel):
            self._poller.register(fd, select.POLLIN)
            self._fd_slot[fd] = slot
        return worker

    def _unwatch(self, worker: _Worker) -> None:
        for fd in (worker.conn.fileno(), worker.sentinel):
            if self._fd_slot.pop(fd, None) is not None:
                self._poller.unregister(fd)

    def _forget_worker(self, slot: int) -> None:
        """The slot's worker is dead or killed: reap it; the next submit starts another."""
        worker = self._workers[slot]
        if worker is None:
            return
        self._unwatch(worker)
        if worker.process.is_alive():
            os.kill(worker.pid, signal.SIGKILL)
        worker.process.join()
        worker.conn.close()
        self._dead_pids.append(worker.pid)
        self._workers[slot] = None

    def _sweep(self, worker_pids: list[int]) -> None:
        """Kill the processes still carrying the tag of these (gone) workers: one scan of /proc."""
        if not worker_pids:
            return
        orphans = process.find_tagged(tuple(f"{pid}:" for pid in worker_pids))
        if orphans:
            process.kill_process_tree(list(orphans), grace=0)

    def _failed(
        self, task: FragmentTask, slot: int, start: float, error: str, details: str = ""
    ) -> FragmentOutcome:
        return FragmentOutcome(task.index, FragmentState.FAILED, slot, start, time.time(), error=error, details=details)


def _unpicklable(task: FragmentTask, exc: Exception) -> str:
    return (
        f"cannot send {task.fragment_id} to a worker process: {type(exc).__name__}: {exc} "
        "(callbacks must be module-level functions or methods of the driver, not lambdas or closures)"
    )


def _has_children(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return bool(handle.read().strip())
    except OSError:
        return False


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except (BlockingIOError, InterruptedError):
        pass
