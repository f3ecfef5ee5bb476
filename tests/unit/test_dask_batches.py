"""How the Dask executor forms batches and decides their fate after a lost worker (pure bookkeeping)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from e3suite.executors.base import FragmentTask
from e3suite.executors.dask_batches import Batch, Entry, Fate, batch_size, fate_after_loss, form_batches
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
