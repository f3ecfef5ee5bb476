"""The Dask executor: the engine's DAG on a Dask cluster, as a pool of remote slots.

The engine keeps planning, ordering, retries and verdicts. This executor
accepts up to ``jobs`` of its ready fragments at once and sends them in
batches (dask_batches.py): one Dask task ``run_batch`` runs up to
``MAX_BATCH`` fragments of one placement one after the other on a worker,
which divides Dask's own cost per task (about 2 ms in a worker and 2.5 ms
in the client and scheduler) by the batch's size. At most ``slots`` batches
are in Dask at once (``-j N``, by default twice the workers' threads); a
batch's slot number (0..slots-1) is that of each of its fragments, unique
among the running ones since a batch runs one at a time. Batches are
formed when the engine waits, from the best fragments first, and small
when few fragments are ready (see ``batch_size``). Dask's ``priority``
follows the order they were formed in.

Each fragment of a batch announces its start and sends its outcome as Dask
events (dask_worker.run_one, received by dask_inbox.Inbox on Dask's
threads): the engine has them as they happen, not at the batch's end. A
fragment of a batch may be revoked before it starts (dask_worker.revoke):
when the engine takes queued fragments back (a worker thread idle while
fragments wait in another's batch, or scheduling stopped at a failure
limit) and when an interruption stops the run.

Placement: every worker publishes its facts when it joins (dask_pool.py);
a fragment whose testcase ``requires:`` facts (or whose driver's
``can_run_on`` refuses some workers) is restricted to the workers that
satisfy it; one no worker satisfies waits outside Dask until a worker that
does joins, at most ``max_pending_time``; on a fixed-size cluster whose
workers have all joined it fails at once.

Failures: the schedulers e3suite starts do not retry a task whose worker
died (``allowed-failures`` 0): this executor does, by fragment (a batch's
other fragments must not run twice): the fragment that was running counts
one worker failure and goes again, up to ``max_worker_failures``; those of
its batch that had not started go again, uncounted. An interruption kills
the commands of the run on every worker (dask_worker.kill_commands), and
``shutdown`` closes the clusters e3suite started and kills what dead
workers left behind.

This module never decides verdicts, never writes results; it prints only
through the ``notice`` callback it is given.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import signal
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cloudpickle

from e3suite.config import ConfigError, ExecutorSpec
from e3suite.executors.base import FragmentOutcome, FragmentStarted, FragmentTask
from e3suite.executors.dask_batches import MAX_BATCH, Batch, Entry, form_batches, overdue
from e3suite.executors.dask_cluster import ClusterHandle, StartInterrupted, open_cluster
from e3suite.executors.dask_facts import hash_files
from e3suite.executors.dask_inbox import Inbox, drain
from e3suite.executors.dask_outcomes import DaskCompletions
from e3suite.executors.dask_placement import PendingFragments, dumps_task, eligible_workers, fragment_resources
from e3suite.executors.dask_pool import ANSWER_TIMEOUT, WorkerPool, run_on_workers
from e3suite.executors.dask_worker import (
    KILL_SETTLE,
    NOT_STARTED,
    SENT_AS_EVENT,
    E3suiteWorkerPlugin,
    forget_run,
    kill_commands,
    outcome_topic,
    revoke,
    run_batch,
    start_topic,
    sweep_orphans,
)
from e3suite.guardian import wait_guardians
from e3suite.model import FailureReason, FragmentState

#: How often the worker list, pending placements and engine-side deadlines are looked at.
HOUSEKEEPING_PERIOD = 0.5
#: How often the list of workers is looked at while fragments run.
WORKER_REFRESH_PERIOD = 2.0
#: Fragments the engine may hand over beyond the window, for those that
#: wait outside Dask for a worker that satisfies them (see ``jobs``).
PENDING_ROOM = 1 << 20
#: How often a fragment pending for a capable worker may be given back to the engine (see take_back_queued).
PENDING_RETURN_PERIOD = 2.0
#: How long a batch restricted to workers that all left waits for news of them before it is placed again.
STRANDED_GRACE = 5.0
#: Beyond a fragment's timeout and kill grace: the time its worker gets to
#: end it itself before the engine gives up on it.
COMMAND_MARGIN = 2.0


class DaskExecutor(DaskCompletions):
    """Runs fragments on the workers of a Dask cluster (see the module docstring)."""

    # test.yaml ``resources:`` are Dask worker resources (the executor's
    # ``resources`` key): Dask places and holds them, per worker.
    places_worker_resources = True

    def __init__(
        self,
        spec: ExecutorSpec,
        jobs: int | None,
        *,
        root_dir: Path,
        driver_files: list[str],
        suite_class: type | None = None,
        kill_grace: float = 2.0,
        max_worker_failures: int = 3,
        max_pending_time: float = 600.0,
        max_batch: int = MAX_BATCH,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = spec
        self.slots = jobs or 1  # batches in Dask at once
        self.max_batch = max(1, max_batch)
        self.window = self.slots * self.max_batch  # fragments buffered or in Dask at once
        self.jobs = self.window + PENDING_ROOM  # see start()
        self._jobs_given = jobs
        self.root_dir = root_dir
        self.driver_files = driver_files
        self.suite_class = suite_class
        self.kill_grace = kill_grace
        self.max_worker_failures = max(1, max_worker_failures)
        self.max_pending_time = max_pending_time
        self.notice = notice or (lambda text: print(f"e3suite: {text}", file=sys.stderr, flush=True))
        self.pool = WorkerPool(hash_files(root_dir, driver_files), self.notice, str(root_dir))
        self.run_id = uuid.uuid4().hex[:12]
        self.handle: ClusterHandle | None = None
        self.first_fragment_at: float | None = None  # time.time() the first outcome arrived (benchmarks)
        self._threads = 1  # the workers' total threads
        self._free: list[int] = []  # free batch slots
        self._buffer: list[Entry] = []  # accepted, not sent yet, in the engine's order
        self._entries: dict[int, Entry] = {}  # ticket -> an entry without an outcome (buffered or in a batch)
        self._batches: dict[str, Batch] = {}  # Dask key -> batch in Dask
        self._pending = PendingFragments()
        self._refusals: dict[int, tuple[int, str | None]] = {}  # fragment index -> (pool generation, refusal)
        # Refusals that kept a fragment pending max_pending_time, with the
        # workers then: a later fragment refused so by the same workers is
        # not placed at once, rather than after a wait of its own.
        self._timed_out: dict[str, frozenset[str]] = {}
        self._ready: list[FragmentOutcome] = []  # outcomes decided here, for the next wait
        self._started: list[FragmentStarted] = []
        self._inbox = Inbox()  # what Dask's threads hand over
        # (fragment index, attempt) -> worker failures: a retry of its testcase gets its own
        self._lost: collections.Counter[tuple[int, int]] = collections.Counter()
        self._given_back: dict[int, int] = {}  # fragment index -> given back after a worker loss, unstarted
        self._tickets = 0
        self._seq = 0
        self._next_housekeeping = 0.0
        self._next_refresh = 0.0
        self._wakeup_fd: int | None = None
        self._interrupted_at_start = False
        self._hurry = False

    # -- Executor protocol -------------------------------------------------

    def start(self) -> None:
        if self.handle is not None:
            return
        # Dask does not run a task again when its worker dies: a batch's
        # fragments that ended must not run twice. This executor counts
        # worker failures by fragment instead (see _lost_batch).
        try:
            self.handle = open_cluster(self.spec, allowed_failures=0, stop=self._signalled)
        except StartInterrupted:
            # Ctrl-C or SIGTERM while the cluster started (the first worker
            # of a scheduler, a batch job in a queue): nothing runs, and the
            # engine, interrupted, ends the run at once ("not run: interrupted").
            return
        client = self.handle.client
        suite = cloudpickle.dumps(self.suite_class) if self.suite_class is not None else None
        plugin = E3suiteWorkerPlugin(str(self.root_dir), self.driver_files, suite)
        try:
            client.register_plugin(plugin, name=f"e3suite-{self.run_id}")
        except Exception as exc:
            self.handle.close()
            self.handle = None
            why = f"{type(exc).__name__}: {exc}"
            raise ConfigError(f"executor {self.spec.name!r}: cannot prepare its workers: {why}") from None
        self._inbox.client = client
        client.subscribe_topic(start_topic(self.run_id), self._inbox.on_start)
        client.subscribe_topic(outcome_topic(self.run_id), self._inbox.on_outcome)
        self.pool.refresh(client)
        self._threads = self.pool.threads(client)
        if self.handle.allowed_failures > 0:
            # An external scheduler that runs a task again on another worker
            # itself: one fragment per task, so that only the one that was
            # running runs again.
            self.max_batch = 1
        if self._jobs_given is None:
            self.slots = 2 * self._threads
        self.window = self.slots * self.max_batch
        # What the engine's admission may hand over at once: the window,
        # which free_slots() enforces, and the fragments pending for a
        # worker that satisfies them, which hold nothing of it. When they
        # counted (jobs == window), two pending gpu fragments on a -j 1
        # scheduler held every slot, and testcases that could run waited
        # behind them for max_pending_time (600 s by default).
        self.jobs = self.window + PENDING_ROOM
        self._free = list(range(self.slots - 1, -1, -1))

    def set_wakeup_fd(self, fd: int | None) -> None:
        self._wakeup_fd = fd

    def _signalled(self) -> bool:
        """Whether SIGINT or SIGTERM arrived while ``start`` waits (the wake-up pipe carries signal numbers)."""
        if self._wakeup_fd is not None and not self._interrupted_at_start:
            with contextlib.suppress(OSError):  # empty: nothing arrived (the pipe does not block)
                data = os.read(self._wakeup_fd, 512)
                self._interrupted_at_start = signal.SIGINT in data or signal.SIGTERM in data
        return self._interrupted_at_start

    def hurry(self) -> None:
        self._hurry = True

    @property
    def tries(self) -> int:
        """How many workers a fragment may be lost on before it is an error."""
        return self.max_worker_failures

    def free_slots(self) -> int:
        # Pending fragments are not counted: they are in no batch and hold no worker thread.
        return max(0, self.window - len(self._entries))

    def submit(self, task: FragmentTask) -> None:
        # A fragment given back while pending keeps the time it has waited
        # and the time it was first submitted (its start if it never runs).
        self._place(task, *self._pending.times(task.index, time.monotonic(), time.time()))

    def wait(self, timeout: float | None) -> list[FragmentOutcome]:
        self._dispatch()
        outcomes, self._ready = self._ready, []
        self._pending.new_turn()
        now = time.monotonic()
        until = max(0.0, self._next_housekeeping - now) if self._needs_housekeeping() else None
        if outcomes or self._inbox.has_news():
            timeout = 0
        if until is not None:
            timeout = until if timeout is None else min(timeout, until)
        fds = [self._inbox.fileno()] + ([self._wakeup_fd] if self._wakeup_fd is not None else [])
        readable, _, _ = select.select(fds, [], [], timeout)
        for fd in readable:
            drain(fd)
        outcomes.extend(self._collect())
        if self._needs_housekeeping() and time.monotonic() >= self._next_housekeeping:
            self._next_housekeeping = time.monotonic() + HOUSEKEEPING_PERIOD
            outcomes.extend(self._housekeeping())
        elif self._batches and time.monotonic() >= self._next_refresh:
            # Workers die and are restarted under new addresses: placement
            # must know the live ones, and a new worker's facts.
            self._next_refresh = time.monotonic() + WORKER_REFRESH_PERIOD
            with contextlib.suppress(Exception):
                self._refresh_workers()
        outcomes.extend(self._ready)
        self._ready = []
        if outcomes and self.first_fragment_at is None:
            self.first_fragment_at = time.time()
        return outcomes

    def take_started(self) -> list[FragmentStarted]:
        """Fragments whose worker announced their start since the last call."""
        started, self._started = self._started, []
        return started

    def idle_slots(self) -> int:
        """Worker threads with nothing to run: a fragment submitted now starts at once.

        None while fragments wait here or a batch has not started: those
        go to the next free thread first.
        """
        if self._buffer or any(batch.worker is None for batch in self._batches.values()):
            return 0
        return max(0, self._threads - len(self._batches))

    def take_back_queued(self) -> list[FragmentOutcome]:
        """Fragments accepted but not started, given back as READY outcomes.

        Those waiting here (buffered, or for a worker that satisfies them),
        and those of batches in Dask that have not started: revoked on the
        worker that holds their batch (or on every worker, for a batch not
        started anywhere), atomically with that worker's start of them, so
        that none runs twice. The engine asks when a worker thread is idle
        (fragments waiting in another's batch then run sooner), and after
        a failure limit (nothing more starts). Pending ones are given back
        at most once between two ``wait`` calls: the engine may submit them
        again at once, and they keep the time they have been pending.
        """
        # Pending ones hold none of the window: given back, they only let
        # a failure limit end them at once. The engine submits them again
        # at once otherwise, at each turn a worker is idle: every pending
        # fragment of a large suite, twice a second, while a Slurm queue
        # starts its jobs. Once per PENDING_RETURN_PERIOD is enough.
        returned = self._pending.give_back(time.monotonic(), PENDING_RETURN_PERIOD)
        outcomes = [self._unstarted(p.task, -1, p.submitted, "not placed yet") for p in returned]
        buffered, self._buffer = self._buffer, []
        for entry in buffered:
            self._entries.pop(entry.ticket, None)
            outcomes.append(self._unstarted(entry.task, -1, entry.submitted, "not started"))
        outcomes.extend(self._revoke_unstarted())
        return outcomes

    def interrupt(self) -> list[FragmentOutcome]:
        outcomes = self._ready + self._collect()
        self._ready = []
        outcomes.extend(self._unstarted(p.task, -1, p.submitted, "interrupted") for p in self._pending.take_all())
        for entry in self._buffer:
            self._entries.pop(entry.ticket, None)
            outcomes.append(self._unstarted(entry.task, -1, entry.submitted, "interrupted"))
        self._buffer.clear()
        if self.handle is None or not self._batches:
            return outcomes
        client = self.handle.client
        grace = 0.0 if self._hurry else self.kill_grace
        # Once kill_commands returned, no fragment of the run starts on any
        # worker: what each batch ran is in its result (or its events).
        running = {e.ticket for b in self._batches.values() for e in b.open if e.started is not None}
        with contextlib.suppress(Exception):
            # Bounded: a worker that does not answer must not keep the engine
            # from ending; what it ran is killed when its cluster closes, or
            # by its guardian.
            run_on_workers(client, kill_commands, self.run_id, grace, on_error="ignore",
                           timeout=grace + KILL_SETTLE + ANSWER_TIMEOUT)
        deadline = time.monotonic() + 2.0
        results_of: dict[str, Any] = {}
        for batch in list(self._batches.values()):
            if batch.worker is not None or any(e.ticket in running for e in batch.open):
                with contextlib.suppress(Exception):
                    results_of[batch.key] = batch.future.result(timeout=max(0.0, deadline - time.monotonic()))
        # What the workers sent meanwhile: fragments that ended before the
        # kill keep their outcome (it was lost as "interrupted" when it had
        # not reached the engine yet); those it killed say so themselves
        # (ABORTED "interrupted", dask_worker.run_one); those that never
        # started are given back, not run because of the interruption.
        for outcome in self._collect():
            if outcome.state is FragmentState.READY:
                outcome.error = "interrupted"
            outcomes.append(outcome)
        for batch in list(self._batches.values()):
            results = results_of.get(batch.key)
            batch.future.cancel()
            for position, entry in enumerate(batch.entries):
                if entry not in batch.open:
                    continue
                result = results[position] if isinstance(results, list) and position < len(results) else None
                if isinstance(result, bytes) and result not in (SENT_AS_EVENT, NOT_STARTED):
                    outcomes.append(self._ended(entry, result))
                    continue
                ran = entry.ticket in running or (result is not None and result != NOT_STARTED)
                self._forget(entry)
                if ran:
                    outcomes.append(FragmentOutcome(entry.task.index, FragmentState.ABORTED, batch.slot,
                                                    entry.started or entry.submitted, time.time(),
                                                    error="interrupted"))
                else:
                    outcomes.append(self._unstarted(entry.task, batch.slot, entry.submitted, "interrupted"))
        self._inbox.drop_events()
        self._batches.clear()
        self._free = list(range(self.slots - 1, -1, -1))
        return outcomes

    def shutdown(self) -> None:
        handle = self.handle
        if handle is not None:
            for batch in self._batches.values():
                batch.future.cancel()
            self._batches.clear()
            self._entries.clear()
            with contextlib.suppress(Exception):
                self._refresh_workers()  # who died since we last looked
            self.handle = None
            self.pool.sweep_dead(handle.client)
            if handle.cluster is None:
                with contextlib.suppress(Exception):
                    run_on_workers(handle.client, forget_run, self.run_id, on_error="ignore", timeout=ANSWER_TIMEOUT)
                with contextlib.suppress(Exception):
                    handle.client.unregister_worker_plugin(f"e3suite-{self.run_id}")
                topics = [start_topic(self.run_id), outcome_topic(self.run_id)]
                with contextlib.suppress(Exception):
                    # A lambda travels by value: the scheduler need not import e3suite.
                    handle.client.run_on_scheduler(
                        lambda dask_scheduler: [dask_scheduler.events.pop(t, None) for t in topics]
                    )
            # This machine's processes of the cluster, workers that never
            # gave their facts included (one a nanny started after a loss,
            # still probing when the run ends): their guardians too must
            # not outlive the run.
            local = _descendants() if handle.cluster is not None else []
            handle.close()
            if handle.cluster is not None:
                # The workers are gone; what they ran on this host must be too,
                # and their guardians, still sweeping, must not outlive the run.
                here = sorted(set(self.pool.pids_on_this_host()) | set(local))
                sweep_orphans(here)
                wait_guardians(here)
        self._inbox.client = None
        self._inbox.close()

    # -- placement and batches -----------------------------------------------

    def _place(self, task: FragmentTask, since: float, submitted: float) -> None:
        eligible, refusal = self._eligible(task)
        if not eligible:
            if refusal is not None and self._all_joined():
                self._ready.append(self._not_placed(task, submitted, refusal, at_once=True))
            elif refusal is not None and self._waited_for_before(refusal):
                self._ready.append(self._not_placed(task, submitted, refusal, at_once=False))
            else:
                self._pending.add(task, since, submitted)
            return
        if self.free_slots() <= 0:  # a pending fragment placed again while the window is full
            self._pending.add(task, since, submitted)
            return
        try:
            payload = dumps_task(task)
        except Exception as exc:
            error = (
                f"cannot send {task.fragment_id} to a Dask worker: {type(exc).__name__}: {exc} "
                "(a callback and what it holds must be picklable, by cloudpickle at least, to go to a Dask worker)"
            )
            failed = FragmentOutcome(task.index, FragmentState.FAILED, -1, submitted, time.time(), error=error)
            self._ready.append(failed)
            return
        # Unrestricted, Dask may send it to any worker of the scheduler,
        # also those the pool refuses (another e3suite, other driver code):
        # one beside a good worker ran half the fragments, with its own code.
        everywhere = len(eligible) == len(self.pool.workers) and not self.pool.refused
        restrict = None if everywhere else tuple(sorted(eligible))
        resources = tuple(sorted(fragment_resources(task).items()))
        self._tickets += 1
        entry = Entry(task, self._tickets, payload, (restrict, resources), submitted)
        self._entries[entry.ticket] = entry
        self._buffer.append(entry)

    def _eligible(self, task: FragmentTask) -> tuple[list[str], str | None]:
        """``eligible_workers``, remembered for a fragment no worker takes until the workers change.

        Pending fragments are looked at again at every housekeeping (twice a
        second) and each time they come back from the engine: with 2000 of
        them, matching them against the same workers again and again cost
        the engine more than running the rest of the suite.
        """
        known = self._refusals.get(task.index)
        if known is not None and known[0] == self.pool.generation:
            return [], known[1]
        eligible, refusal = eligible_workers(task, self.pool.workers, self.pool.resources)
        if eligible:
            self._refusals.pop(task.index, None)
        else:
            self._refusals[task.index] = (self.pool.generation, refusal)
        return eligible, refusal

    def _dispatch(self) -> None:
        """Send buffered fragments as batches, while batch slots are free."""
        while self._buffer and self._free:
            batches = form_batches(self._buffer, len(self._free), self.max_batch)
            if not batches:
                break
            for entries in batches:
                self._send(entries)

    def _send(self, entries: list[Entry]) -> None:
        assert self.handle is not None and entries
        slot = self._free.pop()
        self._seq += 1
        # One Dask task prefix for the whole run ("e3suite"): the scheduler
        # keeps a record per prefix for ever, which one per fragment made
        # grow by some 10 KiB a fragment.
        more = f"+{len(entries) - 1}" if len(entries) > 1 else ""
        key = f"e3suite-{self._seq}-{self.run_id}-{entries[0].task.fragment_id}{more}"
        batch = Batch(key, slot, entries)
        self._batches[key] = batch
        self._inbox.expect(key, [entry.ticket for entry in entries])
        restrict, resources = entries[0].placement
        batch.future = self.handle.client.submit(
            run_batch, [(e.ticket, e.payload) for e in entries], slot, self.run_id, str(self.root_dir),
            key=key, pure=False, priority=-self._seq, workers=list(restrict) if restrict else None,
            allow_other_workers=False, resources=dict(resources) or None,
        )
        batch.future.add_done_callback(self._inbox.on_done)

    def _not_placed(self, task: FragmentTask, submitted: float, reason: str, at_once: bool) -> FragmentOutcome:
        when = "on any worker of this cluster" if at_once else f"within {self.max_pending_time:g} s"
        refused = list(self.pool.refused.values())
        if refused:
            # Said once on stderr as they joined; the verdict, which reports show later, says it too.
            count = f"{len(refused)} worker{'s' if len(refused) > 1 else ''}"
            reason = f"{reason}; {count} given no work: {refused[0]}"
        error = f"{task.fragment_id} not placed {when}: {reason}"
        return FragmentOutcome(task.index, FragmentState.FAILED, -1, submitted, time.time(), error=error)

    def _waited_for_before(self, refusal: str) -> bool:
        """Whether a fragment refused so by the same workers already waited ``max_pending_time`` in vain.

        The engine holds at most ``jobs`` fragments here, pending ones
        included: without this, each window of such fragments waited
        ``max_pending_time`` again (9 on a window of 2: 5 times 600 s), and
        testcases that could run waited behind them. A worker that joins
        or leaves starts the clock again.
        """
        workers = self._timed_out.get(refusal)
        return workers is not None and workers == frozenset(self.pool.workers)

    def _all_joined(self) -> bool:
        assert self.handle is not None
        return self.pool.all_joined(self.handle.expected_workers)

    def _revoke_unstarted(self) -> list[FragmentOutcome]:
        """Revoke the fragments of batches in Dask that have not started; READY outcomes for those revoked."""
        if self.handle is None:
            return []
        by_worker: dict[str | None, list[Entry]] = {}
        for batch in self._batches.values():
            for entry in batch.open:
                if entry.started is None and not entry.asked_revoke:
                    entry.asked_revoke = True
                    by_worker.setdefault(batch.worker, []).append(entry)
        outcomes = []
        for worker, entries in by_worker.items():
            tickets = [e.ticket for e in entries]
            try:
                # None: a batch not started anywhere, revoked on every worker.
                replies = run_on_workers(self.handle.client, revoke, self.run_id, tickets, timeout=ANSWER_TIMEOUT,
                                         workers=[worker] if worker is not None else None)
            except Exception:
                continue
            if not replies or any(not isinstance(r, list) for r in replies.values()):
                continue  # a worker that does not answer may hold the batch
            revoked = set.intersection(*(set(r) for r in replies.values()))
            for entry in entries:
                if entry.ticket in revoked and entry.batch is not None and entry in entry.batch.open:
                    batch = entry.batch
                    self._forget(entry)
                    outcomes.append(self._unstarted(entry.task, batch.slot, entry.submitted, "not started"))
                    if not batch.open and batch.worker is None:
                        batch.future.cancel()  # nothing of it will run: its slot is free
                        self._end_batch(batch)
        return outcomes

    # -- housekeeping ------------------------------------------------------

    def _needs_housekeeping(self) -> bool:
        return bool(self._pending) or any(
            e.task.timeout is not None and e.started is not None for b in self._batches.values() for e in b.open
        ) or (self.handle is not None and not self._all_joined())

    def _housekeeping(self) -> list[FragmentOutcome]:
        outcomes: list[FragmentOutcome] = []
        if self._pending or not self._all_joined():
            self._refresh_workers()
        if self._pending:
            now = time.monotonic()
            for entry in self._pending.take_all():
                eligible, refusal = self._eligible(entry.task)
                if eligible and self.free_slots() > 0:
                    self._place(entry.task, entry.since, entry.submitted)
                elif eligible:
                    # A worker takes it now, but the window is full: back to
                    # the engine, which submits it again in priority order
                    # when there is room (here it failed "no free slot" once
                    # it had waited max_pending_time in all).
                    self._pending.keep(entry)
                    outcomes.append(self._unstarted(entry.task, -1, entry.submitted, "not placed yet"))
                elif refusal is not None and self._all_joined():
                    outcomes.append(self._not_placed(entry.task, entry.submitted, refusal, at_once=True))
                elif now - entry.since >= self.max_pending_time or (
                    refusal is not None and self._waited_for_before(refusal)
                ):
                    if refusal is not None:
                        self._timed_out[refusal] = frozenset(self.pool.workers)
                    outcomes.append(self._not_placed(entry.task, entry.submitted, refusal or "no free slot", False))
                else:
                    self._pending.add(entry.task, entry.since, entry.submitted)
        outcomes.extend(self._expire())
        return outcomes

    def _expire(self) -> list[FragmentOutcome]:
        """Fragments whose worker did not end them at their timeout: the engine gives up on them.

        The rest of such a fragment's batch is revoked (its worker thread
        is stuck in the callback): given back, it runs elsewhere.
        """
        outcomes = []
        margin = self.kill_grace + COMMAND_MARGIN + HOUSEKEEPING_PERIOD
        for batch, entry in overdue(self._batches.values(), time.monotonic(), margin):
            self._forget(entry)
            error = f"timed out after {entry.task.timeout:g} s (its Dask worker did not end it)"
            outcomes.append(FragmentOutcome(entry.task.index, FragmentState.TIMEDOUT, batch.slot,
                                            entry.started or entry.submitted, time.time(), error=error,
                                            failure_reason=FailureReason.TIMEOUT))
        if outcomes:
            outcomes.extend(self._revoke_unstarted())
        return outcomes

    def _refresh_workers(self) -> None:
        assert self.handle is not None
        self.pool.refresh(self.handle.client)
        self._ready.extend(self._give_back_stranded())

    def _give_back_stranded(self) -> list[FragmentOutcome]:
        """READY outcomes for the batches restricted to workers that all left, none of whose fragments started.

        Dask keeps such a task for a worker of those addresses, for ever (a
        nanny restarts a lost worker under another address): the run never
        ended. Given back, they are placed again among the workers there are.
        """
        outcomes = []
        now = time.monotonic()
        for batch in list(self._batches.values()):
            restrict = batch.entries[0].placement[0]
            if restrict is None or batch.worker is not None or any(a in self.pool.workers for a in restrict):
                batch.stranded_at = None
                continue
            if any(entry.started is not None for entry in batch.open):
                continue  # its loss comes as the task's error
            # Not at once: a fragment that killed its worker as it started
            # is that worker's loss, counted when the task's error or its
            # start reaches us, which may come just after the scheduler
            # dropped the worker. Given back now, it ran again uncounted.
            if batch.stranded_at is None:
                batch.stranded_at = now
            if now - batch.stranded_at < STRANDED_GRACE:
                continue
            batch.future.cancel()
            for entry in list(batch.open):
                self._forget(entry)
                outcomes.append(self._unstarted(entry.task, batch.slot, entry.submitted,
                                                "the workers it was placed on left before it started"))
            self._end_batch(batch)
        return outcomes


def _descendants() -> list[int]:
    """The pids of this process's descendants (a LocalCluster's worker processes among them)."""
    import psutil

    with contextlib.suppress(psutil.Error):
        return [child.pid for child in psutil.Process().children(recursive=True)]
    return []
