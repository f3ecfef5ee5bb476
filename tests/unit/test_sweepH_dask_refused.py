"""A worker the engine refuses (other e3suite version, other driver code) is given no work, even beside good ones.

A real ``LocalCluster`` of two worker processes; the engine refuses one of
them, as it would a worker whose driver code differs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("distributed")

import dask_support  # after the skip: workers import it too
from test_dask_executor import executor, make_task, run_all

from e3suite.model import FragmentState


def refuse_one(ex: object) -> int:
    """Refuse the second worker, as the pool refuses one whose driver code differs; its pid."""
    pool = ex.pool  # type: ignore[attr-defined]
    address = sorted(pool.workers)[1]
    facts = pool.workers.pop(address)
    pool.refused[address] = "its driver code differs (hash test)"
    return int(facts["pid"])


def test_a_refused_worker_beside_a_good_one_runs_nothing(tmp_path: Path, no_survivors: None) -> None:
    """Fragments every usable worker could take went to Dask unrestricted, and so to the refused worker too.

    The run said "is given no work: its driver code differs", and that
    worker ran half the fragments, with its own driver code.
    """
    ex = executor(workers=2)
    ex.start()
    try:
        refused = refuse_one(ex)
        outcomes = run_all(ex, [make_task(i, dask_support.give, tmp_path) for i in range(12)])
    finally:
        ex.shutdown()
    assert sorted(outcomes) == list(range(12))
    assert all(o.state is FragmentState.COMPLETE for o in outcomes.values())
    pids = {o.return_value["pid"] for o in outcomes.values()}
    assert refused not in pids, "the refused worker ran fragments"


def test_fragments_restricted_to_a_worker_that_died_go_again(tmp_path: Path, no_survivors: None) -> None:
    """The only usable worker dies with a batch queued for it: that batch is placed again, not left waiting.

    A batch restricted to workers that all left waited in Dask for a
    worker of that address for ever (the nanny's restart has another
    address): the run never ended.
    """
    ex = executor(workers=2, jobs=2, max_worker_failures=2)
    ex.start()
    try:
        refuse_one(ex)
        sleeper = make_task(0, dask_support.shell, tmp_path, cmd="sleep 1; echo slept")
        victim = make_task(1, dask_support.die, tmp_path)
        quick = make_task(2, dask_support.give, tmp_path, value="quick")
        outcomes = run_all(ex, [sleeper, victim, quick], timeout=90)
    finally:
        ex.shutdown()
    assert sorted(outcomes) == [0, 1, 2], f"fragments never ended: {sorted({0, 1, 2} - set(outcomes))}"
    assert outcomes[2].state is FragmentState.COMPLETE and outcomes[2].return_value["value"] == "quick"
    assert outcomes[1].state is FragmentState.FAILED and "worker lost while running t1:run" in str(outcomes[1].error)
