"""How the Dask executor forms batches and decides their fate after a lost worker (pure bookkeeping)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from e3suite.executors.base import FragmentTask
from e3suite.executors.dask_batches import Batch, Entry, Fate, batch_size, fate_after_loss, form_batches, overdue
from e3suite.executors.dask_placement import PendingFragments
from e3suite.model import TestResult


def entry(index: int, placement: Any = (None, ())) -> Entry:
    task = FragmentTask(index, f"t{index}:run", f"t{index}", "run", print, {}, Path("."), Path("."),
                        argparse.Namespace(), {}, TestResult(f"t{index}"))
    return Entry(task, ticket=100 + index, payload=b"", placement=placement, submitted=0.0)


def indices(batches: list[list[Entry]]) -> list[list[int]]:
    return [[e.task.index for e in batch] for batch in batches]


def test_batch_size_never_starves_a_thread_and_is_bounded() -> None:
    assert batch_size(3, 4) == 1  # fewer fragments than batch slots: one each
    assert batch_size(4, 4) == 1
    assert batch_size(10, 4) == 3
    assert batch_size(1000, 4) == 32
    assert batch_size(1000, 4, max_batch=1) == 1
    assert batch_size(0, 4) == 0 and batch_size(5, 0) == 0


def test_the_best_fragments_head_the_batches() -> None:
    buffer = [entry(i) for i in range(10)]
    batches = form_batches(buffer, 4)
    assert indices(batches) == [[0, 4, 8], [1, 5, 9], [2, 6], [3, 7]]
    assert buffer == []


def test_few_fragments_one_per_batch() -> None:
    buffer = [entry(i) for i in range(3)]
    assert indices(form_batches(buffer, 4)) == [[0], [1], [2]]


def test_a_batch_holds_one_placement_and_the_rest_waits() -> None:
    gpu = (("tcp://gpu:1",), (("gpu", 1.0),))
    buffer = [entry(0), entry(1, gpu), entry(2), entry(3, gpu), entry(4), entry(5)]
    batches = form_batches(buffer, 2)  # 3 a batch: the two best head the batches
    assert indices(batches) == [[0, 2, 4], [1, 3]]
    assert [e.task.index for e in buffer] == [5]


def test_a_lost_batch_counts_the_running_fragment_only() -> None:
    entries = [entry(i) for i in range(4)]
    batch = Batch("k", 0, entries)
    batch.open.remove(entries[0])  # its outcome came
    entries[1].started = 1.0  # running when the worker died
    given_back: dict[int, int] = {}
    fates = fate_after_loss(batch, given_back, tries=3)
    assert fates == {101: Fate.LOST, 102: Fate.AGAIN, 103: Fate.AGAIN}
    assert given_back == {}


def test_a_fragment_whose_start_never_came_is_given_back_a_bounded_number_of_times() -> None:
    given_back: dict[int, int] = {}
    fates = []
    for _ in range(4):
        batch = Batch("k", 0, [entry(0), entry(1)])
        fates.append(fate_after_loss(batch, given_back, tries=3)[100])
    assert fates == [Fate.AGAIN, Fate.AGAIN, Fate.AGAIN, Fate.LOST]


def test_overdue_fragments_are_those_running_past_their_timeout_and_margin() -> None:
    quick, slow, unstarted, untimed = entry(0), entry(1), entry(2), entry(3)
    for e in (quick, slow, unstarted):
        e.task = dataclasses.replace(e.task, timeout=10.0)
    quick.seen_running, slow.seen_running, untimed.seen_running = 95.0, 80.0, 0.0
    batch = Batch("k", 0, [quick, slow, unstarted, untimed])
    assert overdue([batch], now=100.0, margin=5.0) == [(batch, slow)]  # 20 s >= 10 + 5
    assert overdue([batch], now=100.0, margin=10.0) == [(batch, slow)]
    assert overdue([batch], now=100.0, margin=10.5) == []


def test_pending_fragments_are_given_back_once_a_turn_and_keep_their_wait() -> None:
    pending = PendingFragments()
    assert not pending
    first, second = entry(0).task, entry(1).task
    pending.add(first, since=1.0, submitted=10.0)
    pending.add(second, since=2.0, submitted=20.0)
    assert [p.task.index for p in pending.give_back()] == [0, 1]
    assert not pending
    # Submitted again at once by the engine: it keeps the time it has waited
    # and the time it was first submitted (its outcome's start if it never runs)...
    assert pending.times(0, since=5.0, submitted=50.0) == (1.0, 10.0)
    assert pending.times(0, since=5.0, submitted=50.0) == (5.0, 50.0)  # once only
    pending.add(first, since=1.0, submitted=10.0)
    # ... and is not given back twice in one turn.
    assert pending.give_back() == [] and bool(pending)
    pending.new_turn()
    assert [p.task.index for p in pending.give_back()] == [0]
    pending.add(second, since=2.0, submitted=20.0)
    assert [p.since for p in pending.take_all()] == [2.0] and not pending


def test_pending_fragments_are_given_back_once_a_period() -> None:
    """Given back at each idle turn, every pending fragment was submitted again twice a second: once a period now."""
    pending = PendingFragments()
    task = entry(0).task
    pending.add(task, since=1.0, submitted=10.0)
    assert [p.task.index for p in pending.give_back(now=100.0, period=2.0)] == [0]
    pending.add(task, *pending.times(0, since=5.0, submitted=50.0))  # the engine submits it again
    pending.new_turn()
    assert pending.give_back(now=101.0, period=2.0) == []
    pending.new_turn()
    assert [(p.since, p.submitted) for p in pending.give_back(now=102.0, period=2.0)] == [(1.0, 10.0)]

