"""The Dask executor: the engine's DAG on a Dask cluster, as a pool of remote slots.

The engine keeps planning, ordering, retries and verdicts. This executor
takes its ready fragments through a bounded window (``jobs`` fragments in
Dask at once: ``-j N``, by default twice the workers' threads), each one
Dask task ``run_payload`` with a key derived from its fragment id
(``pure=False``: identical calls are still separate fragments) and a Dask
``priority`` that follows the engine's order (the critical path). A slot
number (0..jobs-1) stays unique among the fragments in the window.

Placement: every worker publishes its facts when it joins
(dask_worker.E3suiteWorkerPlugin); a worker whose e3suite version or driver
code differ from the engine's gets no work (said once). A fragment whose
testcase ``requires:`` facts (or whose driver's ``can_run_on`` refuses some
workers) is restricted to the workers that satisfy it; one no worker
satisfies waits outside Dask until a worker that does joins, at most
``max_pending_time``; on a fixed-size cluster whose workers have all joined
it fails at once.

Failures: a worker that dies is Dask's business (its task goes elsewhere,
at most ``max_worker_failures`` times, Dask's ``allowed-failures``); then
``KilledWorker`` becomes a FAILED outcome. An interruption kills the
commands of the run on every worker (dask_worker.kill_commands), and
``shutdown`` closes the clusters e3suite started and kills what dead
workers left behind.

This module never decides verdicts, never writes results; it prints only
through the ``notice`` callback it is given.
"""

from __future__ import annotations

import collections
import contextlib
import os
import pickle
import select
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudpickle

from e3suite.config import ConfigError, ExecutorSpec
from e3suite.executors.base import FragmentOutcome, FragmentStarted, FragmentTask
from e3suite.executors.dask_cluster import ClusterHandle, open_cluster
from e3suite.executors.dask_facts import hash_files, incompatibility
from e3suite.executors.dask_placement import dumps_task, eligible_workers, fragment_resources
from e3suite.executors.dask_worker import (
    SENT_AS_EVENT,
    E3suiteWorkerPlugin,
    forget_run,
    kill_commands,
    outcome_topic,
    run_payload,
    start_topic,
    sweep_orphans,
    worker_facts,
)
from e3suite.model import FailureReason, FragmentState
from e3suite.version import __version__

#: How often the worker list, pending placements and engine-side deadlines are looked at.
HOUSEKEEPING_PERIOD = 0.5
#: How often the list of workers is looked at while fragments run.
WORKER_REFRESH_PERIOD = 2.0
#: Beyond a fragment's timeout and kill grace: the time its worker gets to
#: end it itself before the engine gives up on it.
COMMAND_MARGIN = 2.0


@dataclass
class _Flight:
    """A fragment submitted to Dask."""

    task: FragmentTask
    slot: int
    future: Any
    submitted: float  # time.time()
    seen_running: float | None = None  # time.monotonic() it was first seen running
    starts: int = 0  # how many times a worker announced its start (more than one: a worker was lost)


@dataclass
class _Pending:
    """A fragment no worker can take yet."""

    task: FragmentTask
    since: float  # time.monotonic()
    submitted: float  # time.time()


class DaskExecutor:
    """Runs fragments on the workers of a Dask cluster (see the module docstring)."""

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
        notice: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = spec
        self.jobs = jobs or 1
        self._jobs_given = jobs
        self.root_dir = root_dir
        self.driver_files = driver_files
        self.driver_hash = hash_files(root_dir, driver_files)
        self.suite_class = suite_class
        self.kill_grace = kill_grace
        self.max_worker_failures = max_worker_failures
        self.max_pending_time = max_pending_time
        self.notice = notice or (lambda text: print(f"e3suite: {text}", file=sys.stderr, flush=True))
        self.run_id = uuid.uuid4().hex[:12]
        self.handle: ClusterHandle | None = None
        self.first_fragment_at: float | None = None  # time.time() the first outcome arrived (benchmarks)
        self._free: list[int] = []
        self._flights: dict[str, _Flight] = {}  # Dask key -> fragment in Dask
        self._pending: list[_Pending] = []
        self._done: collections.deque[Any] = collections.deque()  # futures finished (from Dask's thread)
        self._starts: collections.deque[dict[str, Any]] = collections.deque()  # start events (Dask's thread)
        self._by_index: dict[int, str] = {}  # fragment index -> Dask key of its flight
        # Written by the engine's thread, read on Dask's loop (dict operations are atomic).
        self._index_of_key: dict[str, int] = {}
        self._event_outcomes: dict[int, bytes] = {}  # outcomes that came as events, until their task ends
        self._started: list[FragmentStarted] = []
        self._given_back: collections.Counter[int] = collections.Counter()  # fragments given back after KilledWorker
        self._given_back_since_wait: set[int] = set()  # pending fragments take_back_queued returned
        self._pending_since: dict[int, float] = {}  # index -> when it started pending (given back meanwhile)
        self._threads = 1  # the workers' total threads
        self._ready: list[FragmentOutcome] = []
        self._workers: dict[str, dict[str, Any]] = {}  # address -> facts (usable workers)
        self._refused: dict[str, str] = {}  # address -> why it gets no work
        self._seen: dict[str, tuple[str, int]] = {}  # address -> (host, pid), every worker ever seen
        self._resources: dict[str, dict[str, float]] = {}
        self._seq = 0
        self._next_housekeeping = 0.0
        self._next_refresh = 0.0
        self._wakeup_fd: int | None = None
        self._hurry = False
        self._lock = threading.Lock()
        self._pipe_r, self._pipe_w = os.pipe()
        os.set_blocking(self._pipe_r, False)
        os.set_blocking(self._pipe_w, False)

    # -- Executor protocol -------------------------------------------------

    def start(self) -> None:
        if self.handle is not None:
            return
        self.handle = open_cluster(self.spec, allowed_failures=max(0, self.max_worker_failures - 1))
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
        client.subscribe_topic(start_topic(self.run_id), self._on_start)
        client.subscribe_topic(outcome_topic(self.run_id), self._on_outcome)
        self._refresh_workers()
        self._threads = max(1, sum(int(info.get("nthreads", 1)) for info in self._scheduler_workers().values()))
        if self._jobs_given is None:
            self.jobs = 2 * self._threads
        self._free = list(range(self.jobs - 1, -1, -1))

    def set_wakeup_fd(self, fd: int | None) -> None:
        self._wakeup_fd = fd

    def hurry(self) -> None:
        self._hurry = True

    @property
    def tries(self) -> int:
        """How many workers a fragment may run on before KilledWorker."""
        return (self.handle.allowed_failures + 1) if self.handle is not None else self.max_worker_failures

    def free_slots(self) -> int:
        return len(self._free)

    def submit(self, task: FragmentTask) -> None:
        # A fragment given back while pending keeps the time it has waited.
        since = self._pending_since.pop(task.index, None)
        self._place(task, time.monotonic() if since is None else since, time.time())

    def wait(self, timeout: float | None) -> list[FragmentOutcome]:
        outcomes, self._ready = self._ready, []
        self._given_back_since_wait.clear()
        now = time.monotonic()
        until = max(0.0, self._next_housekeeping - now) if self._needs_housekeeping() else None
        if outcomes or self._done:
            timeout = 0
        if until is not None:
            timeout = until if timeout is None else min(timeout, until)
        fds = [self._pipe_r] + ([self._wakeup_fd] if self._wakeup_fd is not None else [])
        readable, _, _ = select.select(fds, [], [], timeout)
        for fd in readable:
            _drain(fd)
        self._note_starts()
        outcomes.extend(self._collect_done())
        if self._needs_housekeeping() and time.monotonic() >= self._next_housekeeping:
            self._next_housekeeping = time.monotonic() + HOUSEKEEPING_PERIOD
            outcomes.extend(self._housekeeping())
        elif self._flights and time.monotonic() >= self._next_refresh:
            # Workers die and are restarted under new addresses: placement
            # must know the live ones, and a new worker's facts.
            self._next_refresh = time.monotonic() + WORKER_REFRESH_PERIOD
            with contextlib.suppress(Exception):
                self._refresh_workers()
        return outcomes

    def take_started(self) -> list[FragmentStarted]:
        """Fragments whose worker announced their start since the last call."""
        self._note_starts()
        started, self._started = self._started, []
        return started

    def idle_slots(self) -> int:
        """Worker threads with nothing to run: that many fragments submitted now start at once."""
        return max(0, self._threads - len(self._flights))

    def take_back_queued(self) -> list[FragmentOutcome]:
        """Fragments waiting for a worker that satisfies them: READY outcomes, each once per ``wait``.

        Fragments handed to Dask are never taken back: a Dask task cannot
        be revoked for sure before it starts (``cancel`` races with a worker
        starting it), and a fragment must never run twice. They are at
        most the window (``-j``), and run to their end when scheduling
        stops. Pending ones are given back at most once between two
        ``wait`` calls: the engine may submit them again at once, and they
        keep the time they have been pending.
        """
        given = [p for p in self._pending if p.task.index not in self._given_back_since_wait]
        if not given:
            return []
        self._pending = [p for p in self._pending if p.task.index in self._given_back_since_wait]
        for entry in given:
            self._given_back_since_wait.add(entry.task.index)
            self._pending_since.setdefault(entry.task.index, entry.since)
        return [self._unstarted(p.task, -1, p.submitted, "not placed yet") for p in given]

    def interrupt(self) -> list[FragmentOutcome]:
        outcomes = self._ready + self._collect_done()
        self._ready = []
        outcomes.extend(self._unstarted(p.task, -1, p.submitted, "interrupted") for p in self._pending)
        self._pending.clear()
        if self.handle is None or not self._flights:
            return outcomes
        client = self.handle.client
        self._note_starts()
        running = self._processing() | {key for key, flight in self._flights.items() if flight.starts}
        grace = 0.0 if self._hurry else self.kill_grace
        with contextlib.suppress(Exception):
            client.run(kill_commands, self.run_id, grace, on_error="ignore")
        # What was assigned to a worker either ran (its commands are now
        # killed) or refuses to start: its result says which.
        deadline = time.monotonic() + 2.0
        for key, flight in list(self._flights.items()):
            if key not in running:
                flight.future.cancel()
                outcomes.append(self._unstarted(flight.task, flight.slot, flight.submitted, "interrupted"))
                continue
            with contextlib.suppress(Exception):
                flight.future.result(timeout=max(0.0, deadline - time.monotonic()))
            refused = flight.future.status == "finished" and _outcome_state(flight.future) is FragmentState.READY
            if refused:
                outcomes.append(self._unstarted(flight.task, flight.slot, flight.submitted, "interrupted"))
            else:
                flight.future.cancel()
                outcomes.append(
                    FragmentOutcome(flight.task.index, FragmentState.ABORTED, flight.slot, flight.submitted,
                                    time.time(), error="interrupted")
                )
        self._flights.clear()
        self._by_index.clear()
        self._free = list(range(self.jobs - 1, -1, -1))
        return outcomes

    def shutdown(self) -> None:
        handle = self.handle
        if handle is not None:
            for flight in self._flights.values():
                flight.future.cancel()
            self._flights.clear()
            self._by_index.clear()
            self._event_outcomes.clear()
            with contextlib.suppress(Exception):
                self._refresh_workers()  # who died since we last looked
            self.handle = None
            self._sweep_dead(handle)
            if handle.cluster is None:
                with contextlib.suppress(Exception):
                    handle.client.run(forget_run, self.run_id, on_error="ignore")
                with contextlib.suppress(Exception):
                    handle.client.unregister_worker_plugin(f"e3suite-{self.run_id}")
                topics = [start_topic(self.run_id), outcome_topic(self.run_id)]
                with contextlib.suppress(Exception):
                    # A lambda travels by value: the scheduler need not import e3suite.
                    handle.client.run_on_scheduler(
                        lambda dask_scheduler: [dask_scheduler.events.pop(t, None) for t in topics]
                    )
            handle.close()
            if handle.cluster is not None:
                # The workers are gone; what they ran on this host must be too.
                here = socket.gethostname()
                sweep_orphans([pid for host, pid in self._seen.values() if host == here])
        for fd in (self._pipe_r, self._pipe_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._pipe_r = self._pipe_w = -1

    # -- placement ---------------------------------------------------------

    def _place(self, task: FragmentTask, since: float, submitted: float) -> None:
        eligible, refusal = self._eligible(task)
        if not eligible:
            if refusal is not None and self._all_joined():
                self._ready.append(self._not_placed(task, submitted, refusal, at_once=True))
            else:
                self._pending.append(_Pending(task, since, submitted))
            return
        if not self._free:  # a pending fragment placed again while the window is full
            self._pending.append(_Pending(task, since, submitted))
            return
        try:
            payload = dumps_task(task)
        except Exception as exc:
            error = (
                f"cannot send {task.fragment_id} to a Dask worker: {type(exc).__name__}: {exc} "
                "(callbacks must be module-level functions or methods of the driver)"
            )
            failed = FragmentOutcome(task.index, FragmentState.FAILED, -1, submitted, time.time(), error=error)
            self._ready.append(failed)
            return
        slot = self._free.pop()
        self._seq += 1
        # One Dask task prefix for the whole run ("e3suite"): the scheduler
        # keeps a record per prefix for ever, which one per fragment made
        # grow by some 10 KiB a fragment.
        key = f"e3suite-{self._seq}-{self.run_id}-{task.fragment_id}"
        restrict = eligible if len(eligible) < len(self._workers) else None
        resources = fragment_resources(task)
        assert self.handle is not None
        future = self.handle.client.submit(
            run_payload, payload, slot, self.run_id, str(self.root_dir),
            key=key, pure=False, priority=-self._seq, workers=restrict, allow_other_workers=False,
            resources=resources or None,
        )
        self._flights[key] = _Flight(task, slot, future, submitted)
        self._by_index[task.index] = key
        self._index_of_key[key] = task.index
        future.add_done_callback(self._on_done)

    def _eligible(self, task: FragmentTask) -> tuple[list[str], str | None]:
        """The workers that may run ``task``, and when there are none, why."""
        return eligible_workers(task, self._workers, self._resources)

    def _not_placed(self, task: FragmentTask, submitted: float, reason: str, at_once: bool) -> FragmentOutcome:
        when = "on any worker of this cluster" if at_once else f"within {self.max_pending_time:g} s"
        error = f"{task.fragment_id} not placed {when}: {reason}"
        return FragmentOutcome(task.index, FragmentState.FAILED, -1, submitted, time.time(), error=error)

    def _all_joined(self) -> bool:
        assert self.handle is not None
        expected = self.handle.expected_workers
        return expected is not None and len(self._workers) + len(self._refused) >= expected

    # -- completions -------------------------------------------------------

    def _on_done(self, future: Any) -> None:
        # Called in Dask's callback thread. The result lives on the worker:
        # it is fetched on the client's event loop, not by the engine's
        # thread (a round trip each, which would serialize the run).
        handle = self.handle
        if handle is None:
            return
        handle.client.loop.add_callback(self._fetch, handle.client, future)

    async def _fetch(self, client: Any, future: Any) -> None:
        data: Any = None
        index = self._index_of_key.get(future.key)
        if future.status == "finished" and index is not None:
            data = self._event_outcomes.pop(index, None)  # it came before the task's end
        if data is None and future.status in ("finished", "error"):
            try:
                data = await client.gather(future, asynchronous=True)
            except BaseException as exc:  # the fragment's Dask error (KilledWorker...), or a lost connection
                data = exc
        self._done.append((future, data))
        with contextlib.suppress(OSError):
            os.write(self._pipe_w, b"x")

    def _on_outcome(self, event: Any) -> None:
        # Called on the client's event loop, before the task's end is.
        message = event[1] if isinstance(event, tuple) else event
        if isinstance(message, dict) and isinstance(message.get("data"), bytes):
            self._event_outcomes[int(message.get("index", -1))] = message["data"]

    def _on_start(self, event: Any) -> None:
        # Called in Dask's client thread with (timestamp, message).
        message = event[1] if isinstance(event, tuple) else event
        if isinstance(message, dict):
            self._starts.append(message)

    def _note_starts(self) -> None:
        while self._starts:
            message = self._starts.popleft()
            key = self._by_index.get(int(message.get("index", -1)))
            flight = self._flights.get(key) if key is not None else None
            if flight is None:
                continue
            flight.starts += 1
            flight.seen_running = time.monotonic()  # a new start on another worker counts afresh
            if flight.starts == 1:
                when, pid = float(message.get("time", time.time())), message.get("pid")
                self._started.append(FragmentStarted(flight.task.index, flight.slot, when, pid))

    def _collect_done(self) -> list[FragmentOutcome]:
        outcomes = []
        while self._done:
            future, data = self._done.popleft()
            flight = self._flights.pop(future.key, None)
            if flight is None:
                continue  # already reported (interrupted, timed out, taken back)
            self._by_index.pop(flight.task.index, None)
            self._index_of_key.pop(future.key, None)
            self._free.append(flight.slot)
            outcomes.append(self._outcome_of(flight, data))
        if outcomes and self.first_fragment_at is None:
            self.first_fragment_at = time.time()
        return outcomes

    def _outcome_of(self, flight: _Flight, data: Any) -> FragmentOutcome:
        task, future = flight.task, flight.future
        status = future.status
        if status == "finished" and data == SENT_AS_EVENT:
            return self._failed(flight, f"the outcome of {task.fragment_id} was lost on its way from its Dask worker")
        if status == "finished" and isinstance(data, bytes):
            try:
                outcome: FragmentOutcome = pickle.loads(data)
            except Exception as exc:
                error = f"the outcome of {task.fragment_id} cannot be received from its Dask worker: {exc}"
                return self._failed(flight, error)
            outcome.index, outcome.slot = task.index, flight.slot
            return outcome
        if isinstance(data, BaseException):
            problem = data
            from distributed import KilledWorker

            if isinstance(problem, KilledWorker) and flight.starts == 0 and self._given_back[task.index] < self.tries:
                # Dask counts a death against every task a worker held,
                # queued ones too: this one never started, it goes again
                # (a bounded number of times: its start may have been
                # announced by a worker that died before sending it).
                self._given_back[task.index] += 1
                return self._unstarted(task, flight.slot, flight.submitted, "its worker was lost before it started")
            if isinstance(problem, KilledWorker):
                tries = self.tries
                error = f"worker lost while running {task.fragment_id} (tried {tries} time{'s' if tries > 1 else ''})"
                failed = self._failed(flight, error)
                failed.failure_reason = FailureReason.CRASH
                return failed
            return self._failed(flight, f"{task.fragment_id}: Dask error: {type(problem).__name__}: {problem}")
        return self._failed(flight, f"{task.fragment_id}: Dask {status} it (the scheduler or its worker was lost)")

    def _failed(self, flight: _Flight, error: str) -> FragmentOutcome:
        index, slot = flight.task.index, flight.slot
        return FragmentOutcome(index, FragmentState.FAILED, slot, flight.submitted, time.time(), error=error)

    def _unstarted(self, task: FragmentTask, slot: int, submitted: float, why: str) -> FragmentOutcome:
        return FragmentOutcome(task.index, FragmentState.READY, slot, submitted, time.time(), error=why)

    # -- housekeeping ------------------------------------------------------

    def _needs_housekeeping(self) -> bool:
        return bool(self._pending) or any(f.task.timeout is not None for f in self._flights.values()) or (
            self.handle is not None and not self._all_joined()
        )

    def _housekeeping(self) -> list[FragmentOutcome]:
        outcomes: list[FragmentOutcome] = []
        if self._pending or not self._all_joined():
            self._refresh_workers()
        if self._pending:
            pending, self._pending = self._pending, []
            now = time.monotonic()
            for entry in pending:
                eligible, refusal = self._eligible(entry.task)
                if eligible and self._free:
                    self._place(entry.task, entry.since, entry.submitted)
                elif refusal is not None and self._all_joined():
                    outcomes.append(self._not_placed(entry.task, entry.submitted, refusal, at_once=True))
                elif now - entry.since >= self.max_pending_time:
                    outcomes.append(self._not_placed(entry.task, entry.submitted, refusal or "no free slot", False))
                else:
                    self._pending.append(entry)
        outcomes.extend(self._expire())
        return outcomes

    def _expire(self) -> list[FragmentOutcome]:
        """Fragments whose worker did not end them at their timeout: the engine gives up on them."""
        timed = [(k, f) for k, f in self._flights.items() if f.task.timeout is not None]
        if not timed:
            return []
        running = self._processing()
        now = time.monotonic()
        outcomes = []
        for key, flight in timed:
            if flight.seen_running is None:
                if key in running:
                    flight.seen_running = now
                continue
            assert flight.task.timeout is not None
            if now - flight.seen_running < flight.task.timeout + self.kill_grace + COMMAND_MARGIN + HOUSEKEEPING_PERIOD:
                continue
            del self._flights[key]
            self._by_index.pop(flight.task.index, None)
            flight.future.cancel()
            self._free.append(flight.slot)
            error = f"timed out after {flight.task.timeout:g} s (its Dask worker did not end it)"
            outcome = FragmentOutcome(flight.task.index, FragmentState.TIMEDOUT, flight.slot, flight.submitted,
                                      time.time(), error=error, failure_reason=FailureReason.TIMEOUT)
            outcomes.append(outcome)
        return outcomes

    def _processing(self) -> set[str]:
        assert self.handle is not None
        try:
            processing = self.handle.client.processing()
        except Exception:
            return set()
        return {str(key) for keys in processing.values() for key in keys}

    def _scheduler_workers(self) -> dict[str, Any]:
        assert self.handle is not None
        info = self.handle.client.scheduler_info(n_workers=-1)
        return dict(info.get("workers", {}))

    def _refresh_workers(self) -> None:
        """Learn the workers that joined (their facts) and forget those that left."""
        assert self.handle is not None
        workers = self._scheduler_workers()
        for address in list(self._workers):
            if address not in workers:
                del self._workers[address]
        for address in list(self._refused):
            if address not in workers:
                del self._refused[address]
        new = [a for a in workers if a not in self._workers and a not in self._refused]
        if not new:
            return
        facts = self.handle.client.run(worker_facts, workers=new, on_error="return")
        for address in new:
            found = facts.get(address)
            if not isinstance(found, dict) or not found:
                continue  # its plugin has not run yet: next time
            self._seen[address] = (str(found.get("host", "")), int(found.get("pid", 0)))
            self._resources[address] = dict(workers[address].get("resources") or {})
            why = incompatibility(found, __version__, self.driver_hash)
            if why is None and "facts_error" in found:
                why = str(found["facts_error"])
            if why is not None:
                if why not in self._refused.values():
                    self.notice(f"Dask worker {address} on {found.get('host')} is given no work: {why}")
                self._refused[address] = why
            else:
                self._workers[address] = found

    def _sweep_dead(self, handle: ClusterHandle) -> None:
        """Kill, on each host, the commands of workers that died there (orphans)."""
        dead: dict[str, list[int]] = {}
        for address, (host, pid) in self._seen.items():
            if address not in self._workers and address not in self._refused:
                dead.setdefault(host, []).append(pid)
        if not dead:
            return
        here = socket.gethostname()
        live_by_host = {facts.get("host"): address for address, facts in self._workers.items()}
        for host, pids in dead.items():
            if host == here:
                sweep_orphans(pids)
            elif host in live_by_host:
                with contextlib.suppress(Exception):
                    handle.client.run(sweep_orphans, pids, workers=[live_by_host[host]], on_error="ignore")


def _outcome_state(future: Any) -> FragmentState | None:
    try:
        return pickle.loads(future.result()).state  # type: ignore[no-any-return]
    except Exception:
        return None


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except (BlockingIOError, InterruptedError, OSError):
        pass
