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
import itertools
import math
import multiprocessing
import os
import pickle
import resource
import select
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import e3suite.guardian as guardian
import e3suite.process as process
import e3suite.process_tree as process_tree
from e3suite.executors.base import FragmentOutcome, FragmentStarted, FragmentTask, TaskFactory
from e3suite.executors.local_worker import ERROR, HEADER, OUTCOME, SlotBoard, worker_main
from e3suite.model import FailureReason, FragmentState

#: After a fragment's deadline, a worker that runs commands gets this long
#: besides the kill grace to end them itself (ctx.shell stops them at the
#: deadline, output kept) before the whole worker is killed.
COMMAND_MARGIN = 1.0


#: Seconds after which the engine looks again for the start of a fragment
#: sent to an idle worker.
START_LOOK = 0.005

#: Scans of /proc for the commands of a dead worker (see _sweep).
_SWEEP_PASSES = 10


@dataclass
class _Entry:
    """A fragment handed to a slot's worker: running there, or queued behind."""

    task: FragmentTask
    submitted: float  # time.time()
    ticket: int  # this submission's number on the slot board (an attempt sent again gets a new one)
    hard_deadline: float | None = None  # time.monotonic(): the worker is killed whatever it does
    start_reported: bool = False  # take_started() told the engine it began
    started_at: float | None = None  # its start (time.monotonic()), once the board showed it

    def start_time(self, board: SlotBoard, slot: int) -> float | None:
        """When it started, from the board until it has (a start never changes: one lock round only)."""
        if self.started_at is None:
            self.started_at = board.start_time(slot, self.ticket)
        return self.started_at


class _Worker:
    """One worker process and the engine's end of its pipe."""

    def __init__(
        self,
        slot: int,
        context: multiprocessing.context.BaseContext,
        board: SlotBoard,
        inherited: tuple[int, ...],
        factory: TaskFactory | None,
    ) -> None:
        self.slot = slot
        parent_end, child_end = context.Pipe(duplex=True)
        self.conn: Connection = parent_end
        self.process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=worker_main,
            args=(child_end, slot, board, inherited, factory),
            name=f"e3suite-worker-{slot}",
            daemon=True,
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

    def ask_to_leave(self) -> None:
        """An empty message: the worker returns once its current fragment is done."""
        with contextlib.suppress(OSError):
            self.conn.send_bytes(b"")

    def stop(self) -> None:
        """Make sure it left (after ``ask_to_leave``): wait a little, then kill it."""
        self.process.join(2.0)
        if self.process.is_alive():
            process.kill_process_tree(self.pid, grace=0, tag=f"{self.pid}:")
            self.process.join()
        self.conn.close()


class MultiprocessScheduler:
    """Runs fragments in ``jobs`` slots, each hosting a persistent worker process.

    With ``queue_ahead`` (the default), each worker also holds the next
    fragment in its pipe, so that it starts it as soon as it sends the
    previous outcome instead of waiting for the engine's turn-around (a
    quarter of a worker's time on short fragments). A queued fragment has
    not started: its slot is still unique among running fragments, its
    timeout counts from its real start, and it is taken back (as a READY
    outcome, which the engine schedules again) when another slot falls idle,
    when scheduling stops, or when its worker dies before starting it.
    """

    places_worker_resources = False  # every resource is the testsuite's

    def __init__(self, jobs: int, kill_grace: float = 2.0, queue_ahead: bool = True) -> None:
        self.jobs = max(1, jobs)
        self.kill_grace = kill_grace
        self.queue_ahead = queue_ahead
        # fork: workers inherit the engine's loaded modules, so callbacks
        # defined in the user's testsuite.py (__main__) and drivers unpickle.
        self._context = multiprocessing.get_context("fork")
        self._board = SlotBoard(self.jobs, self._context)
        self._workers: list[_Worker | None] = [None] * self.jobs
        self._free = list(range(self.jobs - 1, -1, -1))  # idle slots; pop() gives slot 0 first
        self._running: dict[int, _Entry] = {}  # slot -> the fragment its worker runs (or is about to)
        self._queued: dict[int, _Entry] = {}  # slot -> the fragment queued behind it
        self._ready: list[FragmentOutcome] = []  # outcomes known without waiting
        self._wakeup_fd: int | None = None
        self._hurry = False
        self._dead_pids: list[int] = []  # workers gone: a last sweep of their orphans at the end
        self._poller = select.poll()
        self._fd_slot: dict[int, int] = {}  # worker pipe or sentinel -> slot
        self._factory: TaskFactory | None = None
        # The board knows submissions by ticket, not by fragment: the next
        # attempt of a fragment, on the slot where its last one ran, must
        # not look started (or unrevokable) from the start it had before.
        self._tickets = itertools.count()

    # -- Executor protocol -------------------------------------------------

    def start(self) -> None:
        # Workers start lazily, when a fragment first needs a slot: a run of
        # two testcases at -j 64 forks two workers, not 64 (each costs about
        # 24 MiB and a fork of the engine).
        pass

    def use_task_factory(self, factory: TaskFactory) -> None:
        """Tasks are then sent by reference: their index and the parts that change.

        Workers are forked from the engine after planning (lazily, at the
        first fragment of their slot), so they hold the plan: ``factory``
        (the engine's ``make_task``) rebuilds each task there. The driver,
        callback, options, paths and test.yaml data never go through the
        pipe: 0.2 ms of pickling less per fragment (docs/performance.md).
        """
        self._factory = factory

    def take_started(self) -> list[FragmentStarted]:
        """Fragments whose worker marked them started since the last call."""
        started = []
        wall_offset = time.time() - time.monotonic()
        for slot, entry in self._running.items():
            if entry.start_reported:
                continue
            at = entry.start_time(self._board, slot)
            if at is None:
                continue
            entry.start_reported = True
            worker = self._workers[slot]
            started.append(FragmentStarted(entry.task.index, slot, at + wall_offset, worker.pid if worker else None))
        return started

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

    def idle_slots(self) -> int:
        return len(self._free)

    def free_slots(self) -> int:
        free = len(self._free)
        if self.queue_ahead:
            free += len(self._running) - len(self._queued)
        return free

    def submit(self, task: FragmentTask) -> None:
        message: Any = task
        if self._factory is not None:
            message = (task.index, task.attempt, task.previous, task.result, task.outcomes, task.resources,
                       task.recycle_working_dir)
        ticket = next(self._tickets)
        try:
            data = HEADER.pack(ticket) + pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            self._ready.append(self._outcome(task, FragmentState.FAILED, -1, time.time(), _unpicklable(task, exc)))
            return
        entry = _Entry(task, time.time(), ticket)
        if self._free:
            slot = self._free.pop()
            worker = self._workers[slot]
            if worker is None or not worker.process.is_alive():
                self._forget_worker(slot)  # it died while idle (OOM killer...)
                worker = self._start_worker(slot)
            self._running[slot] = entry
        else:
            assert self.queue_ahead, "submit() without a free slot"
            # Behind the fragment that started first: likely the first to end.
            slot = min(
                (s for s in self._running if s not in self._queued),
                key=lambda s: self._running[s].start_time(self._board, s) or math.inf,
            )
            worker = self._workers[slot]
            assert worker is not None
            self._queued[slot] = entry
        with contextlib.suppress(OSError):  # it died meanwhile: its sentinel says so in wait()
            worker.conn.send_bytes(data)

    def wait(self, timeout: float | None) -> list[FragmentOutcome]:
        outcomes, self._ready = self._ready, []
        if outcomes:
            timeout = 0
        now = time.monotonic()
        next_deadline = self._next_deadline(now)
        if next_deadline is not None:
            until = max(0.0, next_deadline - now)
            timeout = until if timeout is None else min(timeout, until)
        events = self._poller.poll(None if timeout is None else math.ceil(timeout * 1000))
        # Per slot: whether its process may have ended (its sentinel, or a
        # hang-up of its pipe). A plain message needs no look at the process:
        # a death shows on the sentinel, at this poll or the next.
        slots: dict[int, bool] = {}
        for fd, event in events:
            if fd == self._wakeup_fd:
                _drain(fd)
            elif (slot := self._fd_slot.get(fd)) is not None:
                ended = fd != self._workers_pipe(slot) or bool(event & ~select.POLLIN)
                slots[slot] = slots.get(slot, False) or ended
        for slot, ended in slots.items():
            outcomes.extend(self._collect(slot, ended))
        outcomes.extend(self._expire(time.monotonic()))
        return outcomes

    def take_back_queued(self) -> list[FragmentOutcome]:
        """Fragments queued behind running ones that have not started: READY outcomes."""
        outcomes = []
        for slot, entry in list(self._queued.items()):
            if self._board.revoke(slot, entry.ticket):
                del self._queued[slot]
                outcomes.append(self._outcome(entry.task, FragmentState.READY, slot, entry.submitted, "not started"))
        return outcomes

    def interrupt(self) -> list[FragmentOutcome]:
        """Terminate every running fragment's tree (grace, then kill): ABORTED outcomes.

        Fragments that had not started come back as READY outcomes.
        """
        outcomes = self._ready
        self._ready = []
        for slot in list(self._running):
            # What ended before the interruption is reported as it ended;
            # what the workers send once their commands are killed is not.
            outcomes.extend(self._receive_all(slot))
        # Before any command dies: a worker whose command ends (SIGTERM) would
        # start the fragment queued behind it, which then read as the one
        # interrupted, and the one that ran as never started.
        outcomes.extend(self.take_back_queued())
        if not self._running:
            return outcomes
        workers = [self._workers[slot] for slot in self._running]
        pids = [w.pid for w in workers if w is not None]
        try:
            grace = 0.0 if self._hurry else self.kill_grace
            process.kill_process_tree(pids, grace=grace, hurry=lambda: self._hurry)
        except KeyboardInterrupt:
            process.kill_process_tree(pids, grace=0)
        for slot in list(self._running):
            for entry in filter(None, (self._running.pop(slot, None), self._queued.pop(slot, None))):
                started = entry.start_reported or self._board.has_started(slot, entry.ticket)
                state = FragmentState.ABORTED if started else FragmentState.READY
                outcomes.append(self._outcome(entry.task, state, slot, entry.submitted, "interrupted"))
            self._forget_worker(slot)
            self._free.append(slot)
        return outcomes

    def shutdown(self) -> None:
        workers = [(slot, w) for slot, w in enumerate(self._workers) if w is not None]
        for slot, worker in workers:
            if slot in self._running:
                process.kill_process_tree(worker.pid, grace=0)
            # All of them at once: each takes a few milliseconds to exit,
            # which -j8 would otherwise pay eight times over.
            worker.ask_to_leave()
        for slot, worker in workers:
            self._unwatch(worker)
            worker.stop()
            self._workers[slot] = None
        self._running.clear()
        self._queued.clear()
        # Orphans of workers that died or were killed, which init adopted.
        self._sweep(self._dead_pids)
        self._dead_pids.clear()

    # -- internals -------------------------------------------------------------

    def _workers_pipe(self, slot: int) -> int:
        worker = self._workers[slot]
        return worker.conn.fileno() if worker is not None else -1

    def _collect(self, slot: int, may_have_ended: bool = True) -> list[FragmentOutcome]:
        """What the slot's worker reported, and its death if it died (looked at only if it ``may_have_ended``)."""
        worker = self._workers[slot]
        if worker is None:
            return []
        outcomes = self._receive_all(slot)
        if not may_have_ended or worker.process.is_alive():
            return outcomes
        cause = worker.death_cause()
        for entry in filter(None, (self._running.pop(slot, None), self._queued.pop(slot, None))):
            if entry.start_reported or self._board.has_started(slot, entry.ticket):
                error = f"worker died ({cause}) while running {entry.task.fragment_id}"
                outcomes.append(self._outcome(entry.task, FragmentState.FAILED, slot, entry.submitted, error))
            else:
                outcomes.append(self._outcome(entry.task, FragmentState.READY, slot, entry.submitted, "not started"))
        self._forget_worker(slot)
        if slot not in self._free:  # it may have died idle
            self._free.append(slot)
        # Its commands were orphaned to init: find them by their tag now,
        # rather than let them run on until the end of the run.
        self._sweep([worker.pid])
        return outcomes

    def _receive_all(self, slot: int) -> list[FragmentOutcome]:
        """Every message waiting in the slot's pipe, as outcomes (never blocks)."""
        worker = self._workers[slot]
        outcomes: list[FragmentOutcome] = []
        while worker is not None and slot in self._running and _readable(worker.conn.fileno()):
            entry = self._running[slot]
            try:
                message: Any = pickle.loads(worker.conn.recv_bytes())
            except (EOFError, OSError):
                break  # the worker is gone: the caller looks at its death
            except Exception as exc:
                message = (ERROR, f"the outcome of the fragment cannot be received from its worker: {exc}", "")
            # Its worker now runs the fragment queued behind, if any.
            queued = self._queued.pop(slot, None)
            if queued is not None:
                self._running[slot] = queued
            else:
                del self._running[slot]
                self._free.append(slot)
            if message[0] == OUTCOME:
                outcomes.append(message[1])
            else:
                error = f"{entry.task.fragment_id}: {message[1]}"
                failed = self._outcome(entry.task, FragmentState.FAILED, slot, entry.submitted, error, message[2])
                outcomes.append(failed)
        return outcomes

    def _expire(self, now: float) -> list[FragmentOutcome]:
        """Fragments past their deadline: kill and replace their worker."""
        outcomes = []
        for slot, entry in list(self._running.items()):
            timeout = entry.task.timeout
            started = entry.start_time(self._board, slot) if timeout is not None else None
            if timeout is None or started is None or now < started + timeout:
                continue
            worker = self._workers[slot]
            assert worker is not None
            if entry.hard_deadline is None:
                # A callback stuck in Python is stopped at once; one running
                # commands gets the time to stop them itself (output kept).
                busy = _has_children(worker.pid)
                entry.hard_deadline = started + timeout + (self.kill_grace + COMMAND_MARGIN if busy else 0.0)
            if now < entry.hard_deadline:
                continue
            # The worker first, then what it ran: a worker that outlived its
            # command by a moment reported the fragment COMPLETE (its callback
            # returned when the kill ended its subprocess.run), and it passed.
            tree = process_tree.collect([worker.pid], None)
            with contextlib.suppress(OSError):
                os.kill(worker.pid, signal.SIGKILL)
            process.kill_process_tree(sorted(tree), grace=0)  # its orphans too: a subreaper's children
            worker.process.join()
            outcomes.extend(self._receive_all(slot))  # it may have ended meanwhile
            if self._running.get(slot) is entry:
                del self._running[slot]
                error = f"timed out after {timeout} s"
                timed_out = self._outcome(entry.task, FragmentState.TIMEDOUT, slot, entry.submitted, error)
                timed_out.failure_reason = FailureReason.TIMEOUT
                timed_out.start = time.time() - (now - started)
                outcomes.append(timed_out)
            outcomes.extend(self._collect(slot))  # the queued one comes back unstarted
        return outcomes

    def _next_deadline(self, now: float) -> float | None:
        deadlines = []
        for slot, entry in self._running.items():
            if not entry.start_reported:
                # Sent to an idle worker, which is about to start it: look
                # again shortly, for the progress line and the status file
                # (one started from a worker's queue is seen with the outcome
                # sent before it: local_worker._serve).
                deadlines.append(now + START_LOOK)
                continue
            if entry.task.timeout is None:
                continue
            if entry.hard_deadline is not None:
                deadlines.append(entry.hard_deadline)
                continue
            started = entry.start_time(self._board, slot)
            # Not started yet: its worker is about to; look again shortly.
            deadlines.append(started + entry.task.timeout if started is not None else now + 0.05)
        return min(deadlines) if deadlines else None

    def _start_worker(self, slot: int) -> _Worker:
        self._board.reset(slot)
        inherited = tuple(w.conn.fileno() for w in self._workers if w is not None)
        worker = self._workers[slot] = _Worker(slot, self._context, self._board, inherited, self._factory)
        guardian.watch(worker.pid)  # a SIGKILL of the whole process group ends its commands too
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
        """Kill the processes still carrying the tag of these (gone) workers (see process.kill_tagged)."""
        if worker_pids:
            process.kill_tagged(tuple(f"{pid}:" for pid in worker_pids), _SWEEP_PASSES)

    def _outcome(
        self, task: FragmentTask, state: FragmentState, slot: int, start: float, error: str, details: str = ""
    ) -> FragmentOutcome:
        return FragmentOutcome(task.index, state, slot, start, time.time(), error=error, details=details)


#: What one worker costs, for the bound on -j: its resident size here (a fork
#: of the engine that then imports what fragments need) is about 24 MiB.
WORKER_MEMORY = 32 * 1024 * 1024
#: A bound on -j whatever the machine: past it, slots only cost.
MAX_SLOTS = 4096


def max_slots() -> tuple[int, str]:
    """How many worker processes this machine can host, and why that many."""
    limits = [(MAX_SLOTS, f"at most {MAX_SLOTS}")]
    available = _available_memory()
    if available is not None:
        limits.append(
            (max(1, available // WORKER_MEMORY), f"a worker takes up to {WORKER_MEMORY >> 20} MiB and "
             f"{available / (1 << 30):.1f} GiB of memory are available")
        )
    soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    if soft != resource.RLIM_INFINITY:
        limits.append((max(1, soft // 4), f"the process limit (ulimit -u) is {soft}"))
    return min(limits)


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo", "rb") as handle:
            for line in handle:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _unpicklable(task: FragmentTask, exc: Exception) -> str:
    return f"cannot send {task.fragment_id} to a worker process: {type(exc).__name__}: {exc}"


def _has_children(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return bool(handle.read().strip())
    except OSError:
        return False


def _readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except (BlockingIOError, InterruptedError):
        pass
