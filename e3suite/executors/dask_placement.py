"""Where a fragment may run on a Dask cluster, and how it travels there.

``eligible_workers`` matches a fragment's ``requires:`` (worker facts), its
``resources:`` (Dask worker resources) and its driver's ``can_run_on``
against the workers that joined, and says why none fits; ``dumps_task``
pickles the fragment for a worker; ``PendingFragments`` keeps those no
worker can take yet, with the time each has waited.

Nothing here talks to Dask or decides a verdict.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cloudpickle

from e3suite.executors.base import FragmentTask
from e3suite.executors.dask_facts import offers, unmet


def eligible_workers(
    task: FragmentTask, workers: Mapping[str, dict[str, Any]], resources_of: Mapping[str, dict[str, float]]
) -> tuple[list[str], str | None]:
    """The addresses of the workers that may run ``task``, and when there are none, why."""
    requires = task.test_env.get("requires") or {}
    if not isinstance(requires, dict):
        requires = {}
    resources = fragment_resources(task)
    driver = getattr(task.callback, "__self__", None)
    can_run_on = getattr(driver, "can_run_on", None)
    eligible, refusals = [], []
    for address, facts in workers.items():
        if unmet(requires, facts):
            continue
        offered = resources_of.get(address, {})
        if any(offered.get(name, 0) < amount for name, amount in resources.items()):
            continue
        if can_run_on is not None:
            try:
                verdict = can_run_on(facts)
            except Exception as exc:  # the driver's bug: this testcase's ERROR, not the engine's end
                verdict = f"raised {type(exc).__name__}: {exc}"
            if verdict is not True:
                refusals.append(str(verdict) if isinstance(verdict, str) and verdict else "can_run_on refused it")
                continue
        eligible.append(address)
    if eligible:
        return eligible, None
    parts = []
    if requires:
        offered_facts = offers(requires, workers.values()) if workers else "nothing"
        parts.append(f"needs {', '.join(f'{k}={v}' for k, v in requires.items())}; workers offer {offered_facts}")
    if resources:
        have = {n: max((r.get(n, 0) for r in resources_of.values()), default=0) for n in resources}
        parts.append(f"needs resources {_pairs(resources)}; workers offer at most {_pairs(have)}")
    if refusals:
        parts.append(f"its driver's can_run_on: {refusals[0]}")
    if not workers:
        parts.append("no usable worker")
    return [], "; ".join(parts)


def dumps_task(task: FragmentTask) -> bytes:
    """The task, pickled for a worker.

    cloudpickle only where plain pickle would refer to ``__main__`` (a
    driver defined in the user's testsuite.py, which a worker's
    ``__main__`` is not): it sends such classes by value, at several times
    the cost of plain pickle.
    """
    owner = getattr(task.callback, "__self__", task.callback)
    module = getattr(owner, "__module__", None) or getattr(type(owner), "__module__", None)
    if module == "__main__" or type(owner).__module__ == "__main__":
        return bytes(cloudpickle.dumps(task))
    try:
        return pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return bytes(cloudpickle.dumps(task))


def fragment_resources(task: FragmentTask) -> dict[str, float]:
    """The Dask resources a fragment holds while it runs: ``add_fragment(resources=)``, else test.yaml's."""
    return {name: float(count) for name, count in task.declared_resources}


def _pairs(mapping: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in mapping.items())


@dataclass
class Pending:
    """A fragment no worker can take yet."""

    task: FragmentTask
    since: float  # time.monotonic() it started waiting
    submitted: float  # time.time()


class PendingFragments:
    """Fragments waiting outside Dask for a worker that satisfies them (at most ``max_pending_time``).

    The engine may take them back (``give_back``) and submit them again at
    once: each is given back at most once per turn of the engine's loop
    (``new_turn``) and once per ``period``, and keeps, across such returns, the time it started
    waiting (``since``, for ``max_pending_time``) and the time it was first
    submitted (``submitted``: what its outcome reports as its start when it
    never runs, e.g. "not placed within 600 s" after 600 s, not after the
    half second since the last return).
    """

    def __init__(self) -> None:
        self._items: list[Pending] = []
        self._given_back: set[int] = set()  # indexes given back this turn
        self._kept: dict[int, tuple[float, float]] = {}  # index -> (since, submitted), while given back
        self._returned_at: dict[int, float] = {}  # index -> when it was last given back

    def __bool__(self) -> bool:
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, task: FragmentTask, since: float, submitted: float) -> None:
        self._items.append(Pending(task, since, submitted))

    def keep(self, pending: Pending) -> None:
        """``pending`` leaves for the engine, which will submit it again: it keeps its times."""
        self._kept.setdefault(pending.task.index, (pending.since, pending.submitted))

    def times(self, index: int, since: float, submitted: float) -> tuple[float, float]:
        """(since, submitted) of fragment ``index`` submitted now: those it kept when given back, else these."""
        return self._kept.pop(index, (since, submitted))

    def new_turn(self) -> None:
        self._given_back.clear()

    def give_back(self, now: float = 0.0, period: float = 0.0) -> list[Pending]:
        """Those not given back already this turn nor within ``period`` before ``now``, which leave the list."""
        def due(pending: Pending) -> bool:
            index = pending.task.index
            return index not in self._given_back and now - self._returned_at.get(index, now - period) >= period

        given = [p for p in self._items if due(p)]
        self._items = [p for p in self._items if not due(p)]
        for pending in given:
            self._given_back.add(pending.task.index)
            self._returned_at[pending.task.index] = now
            self.keep(pending)
        return given

    def take_all(self) -> list[Pending]:
        items, self._items = self._items, []
        return items
