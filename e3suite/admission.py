"""Admission: which ready fragment runs next, and what it holds while it runs.

One object owns the ready heap (critical-path priority, then plan order)
and every counted thing a fragment may need: slots (``-j``; a fragment may
weigh several), counted resources with numbered instances (``gpu: 2`` gives
instances 0 and 1), named locks, and the run itself for a ``serial``
fragment. A fragment is admitted with all its needs at once and gives them
all back when it ends, is taken back unstarted, or the run stops: no
fragment ever holds some while waiting for others, so admission cannot
deadlock.

Order and fairness: fragments are considered in priority order. One that
cannot be admitted *reserves* what it waits for (its resources, its locks,
the slots when it weighs more than one, everything when it is serial):
fragments after it may pass only if they need none of it. So a heavy
fragment is never starved by a stream of light ones, and a fragment
waiting for a GPU does not stop the ones that need none.

Queue-ahead: a light fragment (one slot, nothing else) may be admitted
beyond the ``-j`` slots, up to ``lookahead`` more, to wait in a busy
worker's pipe; that is the executor's business (``free_slots``). Any other
fragment must find an idle worker, since what it holds must only be held
while it runs or is about to. Taking queued fragments back when a worker
falls idle is decided here too (``should_take_back``).

This module is pure bookkeeping: no I/O, no processes, no clock.
"""

from __future__ import annotations

import difflib
import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from e3suite.driver import resource_variable


@dataclass(frozen=True)
class Demand:
    """What one fragment needs while it runs."""

    slots: int = 1
    resources: tuple[tuple[str, int], ...] = ()  # (name, count), sorted by name
    locks: tuple[str, ...] = ()
    serial: bool = False

    @property
    def light(self) -> bool:
        """One slot and nothing else: may wait in a busy worker's queue."""
        return self.slots == 1 and not self.resources and not self.locks and not self.serial


LIGHT = Demand()

#: What a fragment waits for when only a slot keeps it back (the default,
#: which nobody is told about: thousands of fragments may wait for one).
A_FREE_SLOT = "a free slot"
#: The same, for a fragment that waited for something else before (a
#: resource, a lock, a serial fragment) and now only for a slot: a reason
#: of its own, so that whoever was told the old one hears that it is over
#: (the engine tells reasons other than A_FREE_SLOT only; the status went on
#: saying "gpu (1 of 1)" with the gpu free, or "a serial fragment running
#: alone" after it ended). Sinks show it as a plain free slot.
BACK_TO_A_SLOT = "a free slot (again)"

#: Fragments held back in one pass over the heap before it stops looking
#: further: past that many waiters (all for resources or locks), scanning on
#: costs more than the rare fragment it would find.
MAX_HELD_BACK = 64


@dataclass
class Grant:
    """What an admitted fragment holds: instances by resource, locks, slots."""

    slots: int
    instances: dict[str, list[int]] = field(default_factory=dict)
    locks: tuple[str, ...] = ()
    serial: bool = False


class CapacityError(ValueError):
    """``Testsuite.resources`` cannot be used: a usage error naming the entry (exit 2)."""


def capacities(declared: object, given: Iterable[tuple[str, int]] = ()) -> dict[str, int]:
    """The run's counts: ``Testsuite.resources`` (checked), then ``--resource NAME=COUNT`` (already checked).

    Names are compared as written: ``--resource GPU=2`` is not ``gpu``. Two
    names that would share one environment variable (``gpu`` and ``GPU``
    are both ``E3SUITE_RESOURCE_GPU``) are a usage error naming both, since
    commands could not tell their instances apart; a ``--resource`` name
    that is a declared one but for the spelling says which.
    """
    if not isinstance(declared, Mapping):
        raise CapacityError(f"Testsuite.resources = {declared!r}: expected a dict of name -> count, e.g. {{'gpu': 2}}")
    for name, count in declared.items():
        if not isinstance(name, str) or not name:
            raise CapacityError(f"Testsuite.resources: the name {name!r} is not a non-empty string")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise CapacityError(f"Testsuite.resources: {name}={count!r}, expected an integer count >= 0")
    counts: dict[str, int] = {}
    by_variable: dict[str, str] = {}  # environment variable -> the name that has it
    for name, count in declared.items():
        other = by_variable.setdefault(resource_variable(name), name)
        if other != name:
            raise CapacityError(
                f"Testsuite.resources: {other!r} and {name!r} are two resources that commands would both be given"
                f" as {resource_variable(name)}; resource names are compared as written: rename one"
            )
        counts[name] = count
    for name, count in given:
        other = by_variable.setdefault(resource_variable(name), name)
        if other != name:
            if other in declared:
                raise CapacityError(
                    f"--resource {name}={count}: the testsuite has {other!r}, not {name!r}; resource names are"
                    f" compared as written, and both would be {resource_variable(name)} in commands' environment"
                    f" (did you mean {other}?)"
                )
            raise CapacityError(
                f"--resource {other}={counts[other]} and --resource {name}={count}: two resources that commands"
                f" would both be given as {resource_variable(name)}; resource names are compared as written:"
                " use one spelling"
            )
        counts[name] = count
    return counts


def impossible(demand: Demand, capacities: Mapping[str, int]) -> str | None:
    """Why ``demand`` can never be met (a plan-time error), or None."""
    for name, count in demand.resources:
        have = capacities.get(name)
        if have is None:
            known = ", ".join(f"{n}={c}" for n, c in sorted(capacities.items())) or "no resources"
            return f"needs {name}={count}; the testsuite has {known}{_did_you_mean(name, capacities)}"
        if count > have:
            return f"needs {name}={count}; the testsuite has {name}={have}"
    return None


def _did_you_mean(name: str, capacities: Mapping[str, int]) -> str:
    """`` (did you mean gpu?)`` for a resource name that looks like a typo of a counted one (``gpux``, ``GPU``)."""
    by_lower = {known.lower(): known for known in capacities}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.75)
    return f" (did you mean {by_lower[close[0]]}?)" if close else ""


class Admission:
    def __init__(self, jobs: int, capacities: Mapping[str, int], lookahead: int = 0) -> None:
        self.jobs = max(1, jobs)
        self.lookahead = max(0, lookahead)
        self.capacities = dict(capacities)
        # Instances given back (a heap, lowest first), and per resource how
        # many were never handed out yet: ids are made as they are first
        # needed, so a huge count (--resource license=1000000000) costs nothing.
        self._returned_ids: dict[str, list[int]] = {name: [] for name in self.capacities}
        self._fresh: dict[str, int] = {name: 0 for name in self.capacities}
        self._locks: set[str] = set()
        self._units = 0  # slots held by admitted fragments
        self._admitted = 0
        self._serial = False  # a serial fragment is admitted: nothing else is
        self._heap: list[tuple[float, int]] = []
        self._demands: dict[int, Demand] = {}
        self._grants: dict[int, Grant] = {}
        #: fragment -> what it waits for now (for the status and progress), as of the last ``admit``
        self.waiting: dict[int, str] = {}

    # -- the ready heap ----------------------------------------------------------

    def push(self, index: int, priority: float, demand: Demand = LIGHT) -> None:
        """``index`` is ready to run."""
        self._demands[index] = demand
        heapq.heappush(self._heap, (-priority, index))

    def __len__(self) -> int:
        return len(self._heap)

    def admit(
        self, is_ready: Callable[[int], bool], can_submit: Callable[[Demand, bool], bool]
    ) -> Iterator[tuple[int, Grant]]:
        """Ready fragments that may run now, best first, each with its grant.

        ``is_ready`` filters out fragments that are no longer ready (skipped
        meanwhile); ``can_submit(demand, ahead)`` asks the executor whether
        it has room for one more such demand, ``ahead`` meaning it may only
        wait in a busy worker's queue, not start on an idle one (the slots
        are all taken). It changes as the caller submits what it is given.
        Fragments that cannot run stay in the heap, with what they wait for
        in ``waiting``: also those the pass stopped before looking at, whose
        reason is made again from what this pass left (a reason seen in an
        earlier pass may be over: the serial fragment it named has ended).
        """
        reserved: set[str] = set()
        held_back: list[tuple[float, int]] = []
        seen: set[int] = set()
        try:
            while self._heap:
                key = heapq.heappop(self._heap)
                index = key[1]
                if not is_ready(index):
                    self._demands.pop(index, None)
                    self.waiting.pop(index, None)
                    continue
                seen.add(index)
                demand = self._demands[index]
                blocker, reserve = self._blocker(demand, reserved)
                if blocker is None:
                    ahead = demand.light and self._units >= self.jobs
                    if not can_submit(demand, ahead):
                        if demand.light:
                            held_back.append(key)
                            self._wait(index, A_FREE_SLOT)
                            break  # no room even for the lightest: stop here
                        # It needs an idle worker: light ones must stop filling
                        # the workers' queues, or it could wait for ever.
                        blocker, reserve = "a free worker", {"slots"}
                if blocker is not None:
                    held_back.append(key)
                    self._wait(index, blocker)
                    reserved.update(reserve)
                    # Out of slots (or a serial fragment waits): nothing after
                    # it can pass, so stop, rather than pop and push back the
                    # whole heap at every fill (quadratic on 10,000 testcases).
                    if "*" in reserved or "slots" in reserved or blocker == A_FREE_SLOT:
                        break
                    if len(held_back) >= MAX_HELD_BACK:
                        break
                    continue
                self.waiting.pop(index, None)
                grant = self._take(demand)
                self._grants[index] = grant
                yield index, grant
        finally:
            for key in held_back:
                heapq.heappush(self._heap, key)
            for index in [i for i in self.waiting if i not in seen]:
                if not is_ready(index):
                    del self.waiting[index]
                else:  # what it would meet now, behind those this pass held back
                    blocker, _ = self._blocker(self._demands.get(index, LIGHT), reserved)
                    self._wait(index, blocker or A_FREE_SLOT)

    def _wait(self, index: int, reason: str) -> None:
        """``index`` waits for ``reason``: BACK_TO_A_SLOT instead of A_FREE_SLOT after something else."""
        if reason == A_FREE_SLOT and self.waiting.get(index, A_FREE_SLOT) != A_FREE_SLOT:
            reason = BACK_TO_A_SLOT
        self.waiting[index] = reason

    # -- holding and giving back ---------------------------------------------------

    def release(self, index: int) -> None:
        """``index`` ended, was taken back unstarted, or the run stops: it holds nothing more."""
        grant = self._grants.pop(index, None)
        self._demands.pop(index, None)
        self.waiting.pop(index, None)
        if grant is None:
            return
        self._units -= grant.slots
        self._admitted -= 1
        for name, ids in grant.instances.items():
            for instance in ids:
                heapq.heappush(self._returned_ids[name], instance)
        self._locks.difference_update(grant.locks)
        if grant.serial:
            self._serial = False

    def should_take_back(self, idle_workers: int) -> bool:
        """After a pass: fragments queued in busy workers go back when a worker stayed idle.

        Nothing admissible went to it, so what waits behind running
        fragments runs sooner there; and a heavier fragment waiting for
        slots gets those the queued ones held.
        """
        return idle_workers > 0

    @property
    def holding(self) -> int:
        """How many admitted fragments hold something."""
        return self._admitted

    # -- internals -------------------------------------------------------------------

    def _blocker(self, demand: Demand, reserved: set[str]) -> tuple[str | None, set[str]]:
        """What keeps ``demand`` from being admitted now (None: nothing), and what it then reserves."""
        if self._serial:
            return "a serial fragment running alone", set()
        if "*" in reserved:
            return "a serial fragment waiting to run alone", set()
        if demand.serial:
            return (None, set()) if self._admitted == 0 else ("what runs to end (serial: it runs alone)", {"*"})
        slots = min(demand.slots, self.jobs)
        if demand.light:
            if "slots" in reserved or self._units >= self.jobs + self.lookahead:
                return A_FREE_SLOT, set()
        elif "slots" in reserved or self._units + slots > self.jobs:
            return (f"{slots} free slots" if slots > 1 else A_FREE_SLOT), {"slots"}
        for name, count in demand.resources:
            if name in reserved or self._free_count(name) < count:
                return f"{name} ({count} of {self.capacities.get(name, 0)})", {name}
        for lock in demand.locks:
            if lock in self._locks or f"lock:{lock}" in reserved:
                return f"lock {lock}", {f"lock:{lock}"}
        return None, set()

    def _free_count(self, name: str) -> int:
        if name not in self.capacities:
            return 0
        return len(self._returned_ids[name]) + self.capacities[name] - self._fresh[name]

    def _take_id(self, name: str) -> int:
        """The lowest free instance of ``name``: the lowest given back (all below the never used), else the next."""
        returned = self._returned_ids[name]
        if returned:
            return heapq.heappop(returned)
        self._fresh[name] += 1
        return self._fresh[name] - 1

    def _take(self, demand: Demand) -> Grant:
        slots = min(demand.slots, self.jobs)
        self._units += slots
        self._admitted += 1
        instances = {name: [self._take_id(name) for _ in range(count)] for name, count in demand.resources}
        self._locks.update(demand.locks)
        if demand.serial:
            self._serial = True
        return Grant(slots, {name: sorted(ids) for name, ids in instances.items()}, demand.locks, demand.serial)
