"""e3-testsuite's generic MultiprocessScheduler API, event-driven and linear.

A program written against ``e3.testsuite.multiprocess_scheduler`` (27.x)
keeps its code: ``MultiprocessScheduler(dag, job_factory, collect_result,
jobs=0, dyn_poll_interval=True)`` (27.x's ``running_status`` argument
accepted too) runs the vertices of an ``e3.collection.dag.DAG``, each
through a ``Worker`` whose ``start()`` returns a process and whose
``poll(scheduler)`` says whether it still runs. Two things differ, on
purpose:

- completion is event-driven: between scans the scheduler blocks on the
  workers' pidfds (Linux), so a freed slot is refilled as soon as its
  process exits; the (dynamic) poll interval only bounds that wait;
- DAG iteration is linear (in-degrees and a ready queue) where e3-core's
  DAGIterator scans every vertex for each step.

``jobs=0`` means one slot per CPU. This module only schedules: it never
decides what a unit of work does or means.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import select
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

logger = logging.getLogger("testsuite.process_scheduler")

#: bounds of the dynamic poll interval (seconds)
MIN_POLL_INTERVAL = 0.0001
MAX_POLL_INTERVAL = 1.0


class Worker:
    """One unit of work, run by the process that ``start()`` returns."""

    index_generator = iter(itertools.count(1))

    def __init__(self, uid: str, driver: Any, callback_name: str, slot: int, env: Any) -> None:
        self.uid = uid
        self.driver = driver
        self.callback_name = callback_name
        self.slot = slot
        self.env = env
        self.index = next(self.index_generator)
        self.process = self.start()

    def start(self) -> Any:
        """Start the work; return its process (``poll()``/``wait()``, and ``pid``)."""
        raise NotImplementedError

    def poll(self, scheduler: MultiprocessScheduler[Any, Any]) -> bool:
        """Whether the process still runs (once it has ended, the scheduler collects it)."""
        if self.process.poll() is not None:
            self.process.wait()
            return False
        return True


WorkData = TypeVar("WorkData")
SomeWorker = TypeVar("SomeWorker", bound=Worker)
JobFactoryCallback = Callable[[str, Any, int], Any]
CollectResultCallback = Callable[[Any], None]


def compute_next_dyn_poll(poll_counter: int, poll_interval: float) -> float:
    """The next poll interval: longer after many idle scans, shorter otherwise.

    Here the interval only bounds the wait for a process exit, so a long
    interval never delays a completion.
    """
    if poll_counter > 8 and poll_interval < MAX_POLL_INTERVAL:
        return poll_interval * 1.25
    if poll_interval > MIN_POLL_INTERVAL:
        return poll_interval * 0.75
    return poll_interval


class _ReadyQueue:
    """Linear-time iteration of a DAG: in-degrees, and the vertices ready to run."""

    def __init__(self, dag: Any) -> None:
        self.data = dict(dag.vertex_data)
        self.indegree: dict[Hashable, int] = {}
        self.successors: dict[Hashable, list[Hashable]] = {uid: [] for uid in self.data}
        for uid, preds in dag.vertex_predecessors_items():
            self.indegree[uid] = len(preds)
            for pred in preds:
                self.successors.setdefault(pred, []).append(uid)
        self.ready = deque(uid for uid in self.data if self.indegree.get(uid, 0) == 0)
        self.remaining = len(self.data)

    def pop(self) -> tuple[Hashable, Any] | None:
        if not self.ready:
            return None
        uid = self.ready.popleft()
        return uid, self.data[uid]

    def leave(self, uid: Hashable) -> None:
        self.remaining -= 1
        for succ in self.successors.get(uid, ()):
            self.indegree[succ] -= 1
            if self.indegree[succ] == 0:
                self.ready.append(succ)


class MultiprocessScheduler(Generic[WorkData, SomeWorker]):
    """Runs the vertices of ``dag`` in at most ``jobs`` processes at a time."""

    def __init__(
        self,
        dag: Any,
        job_factory: JobFactoryCallback,
        collect_result: CollectResultCallback,
        running_status: Any = None,
        jobs: int = 0,
        dyn_poll_interval: bool = True,
    ) -> None:
        if isinstance(running_status, int) and not isinstance(running_status, bool):
            running_status, jobs = None, running_status  # (dag, factory, collect, jobs)
        self.parallelism = jobs if jobs > 0 else _cpu_count()
        self.dag = dag
        self.workers: list[Any | None] = [None] * self.parallelism
        self.job_factory = job_factory
        self.collect_result = collect_result
        self.running_status = running_status
        self.active_workers = 0
        self.poll_interval = 0.1
        self.dyn_poll_interval = dyn_poll_interval
        self.no_free_item = False
        self.no_work_left = False
        self._queue = _ReadyQueue(dag)
        self._pidfds: dict[int, int] = {}  # slot -> pidfd of its worker's process

    @property
    def has_free_slots(self) -> bool:
        return self.active_workers < self.parallelism

    def spawn_worker(self, uid: str, data: Any, slot: int) -> None:
        """Create the worker of ``uid`` in ``slot`` (which must be free)."""
        assert self.workers[slot] is None
        worker = self.job_factory(uid, data, slot)
        self.workers[slot] = worker
        self.active_workers += 1
        pid = getattr(getattr(worker, "process", None), "pid", None)
        if isinstance(pid, int) and hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):  # already reaped, or no pidfd support: scans do
                self._pidfds[slot] = os.pidfd_open(pid)

    def release_worker(self, slot: int) -> None:
        """Free ``slot``."""
        assert self.workers[slot] is not None
        self.workers[slot] = None
        self.active_workers -= 1
        fd = self._pidfds.pop(slot, None)
        if fd is not None:
            os.close(fd)

    def run(self) -> None:
        """Run every unit of work; on Ctrl-C, wait for the running ones, then re-raise."""
        try:
            while self.active_workers > 0 or not self.no_work_left:
                self.poll()
        except KeyboardInterrupt:
            logger.error("Scheduling abortion requested, waiting for all active workers...")
            while self.active_workers > 0:
                self._reap(collect=False)
                if self.active_workers > 0:
                    self._wait()
            raise
        finally:
            for fd in self._pidfds.values():
                os.close(fd)
            self._pidfds.clear()

    def _aborted(self) -> bool:
        return bool(getattr(self.running_status, "aborted_too_many_failures", False))

    def poll(self) -> None:
        """Fill the free slots, then wait until one is free again (or all is done)."""
        if not self.no_work_left and self.has_free_slots:
            for slot, worker in enumerate(self.workers):
                if worker is not None:
                    continue
                if self._aborted() or (self._queue.remaining == 0 and not self._queue.ready):
                    self.no_work_left = True
                    break
                item = self._queue.pop()
                if item is None:
                    self.no_free_item = True
                    break
                uid, data = item
                self.spawn_worker(str(uid), data, slot)
                if self.active_workers >= self.parallelism:
                    break
        poll_counter = 0
        while not self.has_free_slots or self.no_free_item or (self.no_work_left and self.active_workers > 0):
            if self.active_workers == 0:
                self.no_work_left = True  # nothing runs and nothing is ready: a cycle, or aborted
                break
            poll_counter += 1
            if self._reap(collect=True):
                break
            self._wait()
        if self.dyn_poll_interval:
            self.poll_interval = compute_next_dyn_poll(poll_counter, self.poll_interval)

    def _reap(self, collect: bool) -> bool:
        """Collect the workers that ended; True if any did."""
        ended = False
        for slot, worker in enumerate(self.workers):
            if worker is not None and not worker.poll(self):
                self.release_worker(slot)
                self._queue.leave(worker.uid)
                self.no_free_item = False
                ended = True
                if collect:
                    self.collect_result(worker)
                    if self._aborted():
                        self.no_work_left = True
        if self._queue.remaining == 0:
            self.no_work_left = True
        return ended

    def _wait(self) -> None:
        """Block until a worker's process exits, at most ``poll_interval`` seconds."""
        timeout_ms = max(1, int(self.poll_interval * 1000))
        if not self._pidfds or len(self._pidfds) < self.active_workers:
            # Some process cannot be watched: scan at the poll interval, as e3-testsuite does.
            timeout_ms = min(timeout_ms, 10)
        poller = select.poll()
        for fd in self._pidfds.values():
            poller.register(fd, select.POLLIN)
        poller.poll(timeout_ms)


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
