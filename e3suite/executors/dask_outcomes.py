"""How the Dask executor takes what its fragments' workers send back (the engine's thread).

A mixin of ``DaskExecutor`` (dask_executor.py), which holds the state it
reads: the entries without an outcome, the batches in Dask, the inbox that
Dask's threads fill. Each fragment ends exactly once here: with the outcome
its worker sent (as an event, or in its batch's result), as FAILED when
that outcome was lost or Dask failed it, or as READY (given back to the
engine, unstarted) when it never ran, so that it is scheduled again. A
worker that died with a batch (``KilledWorker``) costs the fragment it was
running one worker failure (``--max-worker-failures``); the others of the
batch go again, uncounted.
"""

from __future__ import annotations

import collections
import pickle
import time
from typing import Any

from e3suite.executors.base import FragmentOutcome, FragmentStarted, FragmentTask
from e3suite.executors.dask_batches import Batch, Entry, Fate, fate_after_loss
from e3suite.executors.dask_cluster import ClusterHandle
from e3suite.executors.dask_inbox import Inbox
from e3suite.executors.dask_worker import NOT_STARTED, SENT_AS_EVENT
from e3suite.model import FailureReason, FragmentState


class DaskCompletions:
    """Outcomes from the inbox and from finished batches (see the module docstring)."""

    handle: ClusterHandle | None
    _inbox: Inbox
    _entries: dict[int, Entry]
    _batches: dict[str, Batch]
    _free: list[int]
    _started: list[FragmentStarted]
    _lost: collections.Counter[tuple[int, int]]
    _given_back: dict[int, int]

    @property
    def tries(self) -> int:
        raise NotImplementedError

    def _collect(self) -> list[FragmentOutcome]:
        done, events = self._inbox.take()
        outcomes = []
        for kind, message in events:
            entry = self._entries.get(int(message.get("t", -1)))
            if entry is None or entry.batch is None:
                continue  # already decided (interrupted, timed out, given back)
            if kind == "start":
                self._note_start(entry, message)
            else:
                outcomes.append(self._ended(entry, message["data"]))
        for future, data in done:
            batch = self._batches.get(future.key)
            if batch is not None:
                outcomes.extend(self._batch_done(batch, future, data))
        return outcomes

    def _note_start(self, entry: Entry, message: dict[str, Any]) -> None:
        assert entry.batch is not None
        if entry.started is not None:
            return
        entry.started = float(message.get("time", time.time()))
        entry.seen_running = time.monotonic()
        entry.batch.worker = str(message.get("worker") or "") or entry.batch.worker
        pid = message.get("pid")
        self._started.append(FragmentStarted(entry.task.index, entry.batch.slot, entry.started,
                                             pid if isinstance(pid, int) else None))

    def _ended(self, entry: Entry, data: bytes) -> FragmentOutcome:
        """The outcome of ``entry``, as its worker sent it."""
        batch = entry.batch
        assert batch is not None
        self._forget(entry)
        try:
            outcome: FragmentOutcome = pickle.loads(data)
        except Exception as exc:
            error = f"the outcome of {entry.task.fragment_id} cannot be received from its Dask worker: {exc}"
            return self._failed(entry, batch.slot, error)
        outcome.index, outcome.slot = entry.task.index, batch.slot
        return outcome

    def _batch_done(self, batch: Batch, future: Any, data: Any) -> list[FragmentOutcome]:
        self._end_batch(batch)
        outcomes = []
        if isinstance(data, list):
            for position, entry in enumerate(batch.entries):
                if entry not in batch.open:
                    continue
                result = data[position] if position < len(data) else NOT_STARTED
                if result == NOT_STARTED:
                    self._forget(entry)
                    outcomes.append(self._unstarted(entry.task, batch.slot, entry.submitted, "not started"))
                elif result == SENT_AS_EVENT:
                    self._forget(entry)
                    error = f"the outcome of {entry.task.fragment_id} was lost on its way from its Dask worker"
                    outcomes.append(self._failed(entry, batch.slot, error))
                else:
                    outcomes.append(self._ended(entry, result))
            return outcomes
        if future.status == "finished" and not batch.open:
            return []  # every outcome came as an event
        from distributed import KilledWorker

        if isinstance(data, KilledWorker):
            return self._lost_batch(batch)
        for entry in list(batch.open):
            self._forget(entry)
            if isinstance(data, BaseException):
                error = f"{entry.task.fragment_id}: Dask error: {type(data).__name__}: {data}"
            else:
                error = f"{entry.task.fragment_id}: Dask {future.status} it (the scheduler or its worker was lost)"
            outcomes.append(self._failed(entry, batch.slot, error))
        return outcomes

    def _lost_batch(self, batch: Batch) -> list[FragmentOutcome]:
        """The worker of ``batch`` died: the fragment it was running counts a failure, the others go again."""
        assert self.handle is not None
        fates = fate_after_loss(batch, self._given_back, self.tries)
        outcomes = []
        for entry in list(batch.open):
            self._forget(entry)
            fate = fates.get(entry.ticket, Fate.AGAIN)
            if fate is Fate.AGAIN:
                outcomes.append(self._unstarted(entry.task, batch.slot, entry.submitted,
                                                "its worker was lost before it started"))
                continue
            key = (entry.task.index, entry.task.attempt)
            # An external scheduler may have run it that many times already.
            self._lost[key] += 1 + self.handle.allowed_failures
            if self._lost[key] < self.tries:
                outcomes.append(self._unstarted(entry.task, batch.slot, entry.submitted,
                                                "its worker was lost while it ran"))
                continue
            tries = self._lost[key]
            error = f"worker lost while running {entry.task.fragment_id} (tried {tries} time{'s' if tries > 1 else ''})"
            failed = self._failed(entry, batch.slot, error)
            failed.failure_reason = FailureReason.CRASH
            outcomes.append(failed)
        return outcomes

    def _forget(self, entry: Entry) -> None:
        """``entry`` has its outcome (or is given back): it no longer counts against the window."""
        self._entries.pop(entry.ticket, None)
        self._inbox.forget_ticket(entry.ticket)
        batch = entry.batch
        if batch is not None and entry in batch.open:
            batch.open.remove(entry)

    def _end_batch(self, batch: Batch) -> None:
        if self._batches.pop(batch.key, None) is not None:
            self._free.append(batch.slot)
            self._inbox.forget_batch(batch.key)

    def _failed(self, entry: Entry, slot: int, error: str) -> FragmentOutcome:
        start = entry.started or entry.submitted
        return FragmentOutcome(entry.task.index, FragmentState.FAILED, slot, start, time.time(), error=error)

    def _unstarted(self, task: FragmentTask, slot: int, submitted: float, why: str) -> FragmentOutcome:
        return FragmentOutcome(task.index, FragmentState.READY, slot, submitted, time.time(), error=why)
