"""The Dask executor's bookkeeping of fragments and batches, on the engine's side.

A fragment the engine submits becomes an ``Entry`` (one submission: a
fragment sent again gets a new ticket). Entries wait in the executor's
buffer, in the engine's order (the critical path), until they are sent as
a ``Batch``: up to ``max_batch`` entries with the same placement (worker
restrictions and Dask resources), one Dask task that a worker runs one
fragment after the other. ``form_batches`` makes them: as many batches as
batch slots are free before any batch takes a second fragment, so that no
worker thread starves while fragments wait in another's batch; larger
batches only when more fragments are buffered than batch slots are free
(``batch_size``); the best fragments head the batches.

``fate_after_loss`` decides what becomes of a batch's fragments when its
worker was lost (Dask's ``KilledWorker``); ``overdue`` finds the running
fragments the engine must give up on (their worker did not end them in
time).

Pure bookkeeping: nothing here talks to Dask, runs a fragment or decides a
verdict.
"""

from __future__ import annotations

import collections
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from e3suite.executors.base import FragmentTask

#: The most fragments in one Dask task: a batch's fragments run one after
#: the other, so a larger one would delay the last of them, and a lost
#: worker or an interruption gives back more.
MAX_BATCH = 32

#: Where a fragment may run: the workers it is restricted to (None: any), its Dask resources.
Placement = tuple[tuple[str, ...] | None, tuple[tuple[str, float], ...]]


@dataclass(eq=False)
class Entry:
    """One submission of a fragment, from ``submit`` to its outcome (or its giving back)."""

    task: FragmentTask
    ticket: int
    payload: bytes  # the pickled task
    placement: Placement
    submitted: float  # time.time()
    batch: Batch | None = None
    started: float | None = None  # time.time() its worker announced its start
    seen_running: float | None = None  # time.monotonic() of that announcement
    asked_revoke: bool = False  # a revocation was asked of the workers: not asked twice


@dataclass(eq=False)
class Batch:
    """Fragments sent as one Dask task."""

    key: str
    slot: int
    entries: list[Entry]
    future: Any = None
    worker: str | None = None  # its worker's address, known from its first fragment's start
    open: list[Entry] = field(default_factory=list)  # entries without an outcome yet
    stranded_at: float | None = None  # time.monotonic() its restricted workers were first seen all gone

    def __post_init__(self) -> None:
        self.open = list(self.entries)
        for entry in self.entries:
            entry.batch = self


def batch_size(buffered: int, free_batches: int, max_batch: int = MAX_BATCH) -> int:
    """How many of ``buffered`` fragments the next batch takes, with ``free_batches`` more batches allowed.

    Buffered fragments are spread over the free batch slots: with fewer
    fragments than slots, one fragment per batch (no worker thread waits
    while another's batch holds its fragment); beyond, evenly, at most
    ``max_batch``.
    """
    if buffered <= 0 or free_batches <= 0:
        return 0
    return max(1, min(max_batch, -(-buffered // free_batches)))


def form_batches(buffer: list[Entry], free_batches: int, max_batch: int = MAX_BATCH) -> list[list[Entry]]:
    """Batches to send now from ``buffer`` (in the engine's order), removed from it; at most ``free_batches``.

    The best fragments head the batches (each batch's first fragment is one
    of the ``free_batches`` best), and the following ones are dealt in turn
    to the batches of their placement: the batch that starts first does not
    hold all the best fragments while another thread runs worse ones.
    What finds no room stays in the buffer.
    """
    size = batch_size(len(buffer), free_batches, max_batch)
    if size == 0:
        return []
    count = min(free_batches, -(-len(buffer) // size))
    batches: list[list[Entry]] = []
    open_by_placement: dict[Placement, collections.deque[list[Entry]]] = {}
    kept: list[Entry] = []
    for entry in buffer:
        if len(batches) < count:
            batch = [entry]
            batches.append(batch)
            if size > 1:
                open_by_placement.setdefault(entry.placement, collections.deque()).append(batch)
            continue
        turn = open_by_placement.get(entry.placement)
        if not turn:
            kept.append(entry)
            continue
        batch = turn.popleft()
        batch.append(entry)
        if len(batch) < size:
            turn.append(batch)
    buffer[:] = kept
    return batches


class Fate(enum.Enum):
    """What becomes of a fragment of a batch whose worker was lost."""

    DONE = "done"  # its outcome had come: nothing to do
    LOST = "lost"  # it was running: one more worker failure against it
    AGAIN = "again"  # it had not started: it goes again, not counted


def fate_after_loss(batch: Batch, given_back: dict[int, int], tries: int) -> dict[int, Fate]:
    """By ticket, the fate of each fragment without an outcome of ``batch``, whose worker died.

    Its worker ran the fragments one after the other, and sent each one's
    start and outcome on one ordered stream: the first one without an
    outcome was running when the worker died, if its start came, or may
    have been (a start still on its way); those after it never started.
    One whose start did not come is given back, but not for ever
    (``given_back`` counts it by fragment index, bounded by ``tries``): a
    fragment that kills its worker at once would otherwise never end.
    """
    fates: dict[int, Fate] = {}
    for position, entry in enumerate(batch.open):
        if position > 0:
            fates[entry.ticket] = Fate.AGAIN
        elif entry.started is not None or given_back.get(entry.task.index, 0) >= tries:
            fates[entry.ticket] = Fate.LOST
        else:
            given_back[entry.task.index] = given_back.get(entry.task.index, 0) + 1
            fates[entry.ticket] = Fate.AGAIN
    return fates


def overdue(batches: Iterable[Batch], now: float, margin: float) -> list[tuple[Batch, Entry]]:
    """Fragments running for longer than their timeout plus ``margin`` since their start was announced.

    ``now`` is a ``time.monotonic()``; the list is a copy: the caller may
    forget the entries it returns.
    """
    return [
        (batch, entry)
        for batch in list(batches)
        for entry in list(batch.open)
        if entry.task.timeout is not None
        and entry.seen_running is not None
        and now - entry.seen_running >= entry.task.timeout + margin
    ]
