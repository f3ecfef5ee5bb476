"""Build the run's single fragment DAG, validate it, and set priorities.

Every fragment of every selected testcase becomes a node; ``after`` lists
become edges, also across testcases. A testcase that another one depends on
is pulled into the run even when it was not selected. Validation happens
before anything runs and never raises: an unknown dependency or a cycle
gives the testcases involved an error (the cycle spelled out edge by edge)
and the rest of the plan stands.

Cost is linear in the size of the DAG: resolution is dictionary look-ups,
cycle detection is Kahn's algorithm, and networkx is only called on the
part of the graph that is left in cycles, to name them. This module must
never run a fragment.
"""

from __future__ import annotations

import argparse
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e3suite.discovery import Testcase
from e3suite.driver import FragmentSpec, TestDriver

#: Estimated duration (s) of a fragment with no history, for priorities.
DEFAULT_FRAGMENT_ESTIMATE = 1.0


class Fragment:
    """A node of the DAG."""

    __slots__ = ("fragment_id", "index", "preds", "priority", "spec", "succs", "test_id")

    def __init__(self, index: int, test_id: str, spec: FragmentSpec | None, name: str) -> None:
        self.index = index
        self.fragment_id = f"{test_id}:{name}"
        self.test_id = test_id
        self.spec = spec  # None for a placeholder of a testcase in error
        self.preds: list[int] = []
        self.succs: list[int] = []
        self.priority = 0.0

    @property
    def name(self) -> str:
        return self.fragment_id[len(self.test_id) + 1 :]


@dataclass
class PlannedTest:
    """A testcase of the plan: its driver and fragments, or its error."""

    case: Testcase
    driver: TestDriver | None = None
    working_dir: Path | None = None  # made by the first callback that uses it
    fragments: dict[str, int] = field(default_factory=dict)  # name -> index
    error: str | None = None
    details: str = ""
    selected: bool = True  # False when pulled in as a dependency only

    @property
    def test_id(self) -> str:
        return self.case.test_id


@dataclass
class Plan:
    tests: dict[str, PlannedTest]  # in discovery order
    fragments: list[Fragment]

    def test_of(self, fragment: Fragment) -> PlannedTest:
        return self.tests[fragment.test_id]


def working_dir_for(working_root: Path, test_id: str) -> Path:
    # Matrix ids hold brackets and commas: keep them, they are valid names.
    return working_root / test_id


def build_plan(
    cases: list[Testcase],
    options: argparse.Namespace,
    working_root: Path,
    find_dependency: Callable[[str], Testcase | None] = lambda _: None,
    estimates: dict[str, float] | None = None,
) -> Plan:
    """Instantiate drivers, collect fragments, resolve edges, check, prioritise."""
    builder = _PlanBuilder(options, working_root, find_dependency)
    for case in cases:
        builder.add_test(case, selected=True)
    builder.resolve_edges()
    builder.check_cycles()
    plan = Plan(builder.tests, builder.fragments)
    set_critical_path_priorities(plan, estimates or {})
    return plan


class _PlanBuilder:
    def __init__(
        self,
        options: argparse.Namespace,
        working_root: Path,
        find_dependency: Callable[[str], Testcase | None],
    ) -> None:
        self.options = options
        self.working_root = working_root
        self.find_dependency = find_dependency
        self.tests: dict[str, PlannedTest] = {}
        self.fragments: list[Fragment] = []
        self._unresolved = 0  # fragments whose edges are not resolved yet

    def add_test(self, case: Testcase, selected: bool) -> PlannedTest:
        planned = PlannedTest(case, selected=selected)
        self.tests[case.test_id] = planned
        if case.error is not None:
            planned.error = case.error
            return planned
        if case.verdict is not None:
            return planned  # decided before running: no driver, no fragments
        assert case.driver_class is not None
        planned.working_dir = working_dir_for(self.working_root, case.test_id)
        try:
            driver = case.driver_class(
                case.test_id,
                case.test_env,
                case.test_dir,
                planned.working_dir,
                self.options,
                case.matrix,
            )
            if case.written:
                driver.test_yaml_written = case.written
            driver.expected_failure = case.expected_failure
            driver.add_fragments()
        except Exception as exc:  # a driver bug must not stop the run
            name = case.driver_class.__name__
            planned.error = f"driver {name} failed to declare fragments: {type(exc).__name__}: {exc}"
            planned.details = traceback.format_exc()
            return planned
        if not driver.fragments:
            planned.error = f"driver {case.driver_class.__name__} declared no fragments"
            return planned
        planned.driver = driver
        for spec in driver.fragments:
            self._new_fragment(planned, spec.name, spec)
        return planned

    def _new_fragment(self, planned: PlannedTest, name: str, spec: FragmentSpec | None) -> Fragment:
        fragment = Fragment(len(self.fragments), planned.test_id, spec, name)
        self.fragments.append(fragment)
        planned.fragments[name] = fragment.index
        return fragment

    def _lookup(self, ref: str, owner: str) -> tuple[int | None, str]:
        """(index, full id) of the fragment ``ref`` names, seen from ``owner``."""
        test_id, sep, name = ref.rpartition(":")
        if not sep:
            test_id, name = owner, ref
        full = f"{test_id}:{name}"
        planned = self.tests.get(test_id)
        if planned is None:
            case = self.find_dependency(test_id)
            if case is None:
                return None, full
            planned = self.add_test(case, selected=False)
        if name in planned.fragments:
            return planned.fragments[name], full
        if (planned.error is not None or planned.case.verdict is not None) and test_id != owner:
            # The testcase exists but declared no fragments (it is in error,
            # or its verdict was decided before running, e.g. skipped by a
            # control condition): stand in a placeholder that never runs,
            # so that dependants are skipped with the reason.
            return self._new_fragment(planned, name, None).index, full
        return None, full

    def resolve_edges(self) -> None:
        # Pulling in a dependency appends fragments: iterate until stable.
        i = 0
        while i < len(self.fragments):
            fragment = self.fragments[i]
            i += 1
            if fragment.spec is None:
                continue
            owner = self.tests[fragment.test_id]
            seen: set[int] = set()  # a fragment named twice in one ``after`` is one edge
            for ref in fragment.spec.after:
                index, full = self._lookup(ref, fragment.test_id)
                if index is None:
                    self._fail(owner, f"unknown dependency {full!r} of fragment {fragment.fragment_id}")
                    continue
                if index in seen:
                    continue
                seen.add(index)
                fragment.preds.append(index)
                self.fragments[index].succs.append(fragment.index)

    def _fail(self, planned: PlannedTest, message: str) -> None:
        if planned.error is None:
            planned.error = message

    def check_cycles(self) -> None:
        order = topological_order(self.fragments)
        if len(order) == len(self.fragments):
            return
        # networkx costs ~0.1 s to import: only a plan with a cycle pays it.
        import networkx as nx

        in_order = set(order)
        graph = nx.DiGraph()
        for fragment in self.fragments:
            if fragment.index in in_order:
                continue
            graph.add_node(fragment.index)
            for succ in fragment.succs:
                if succ not in in_order:
                    graph.add_edge(fragment.index, succ)
        for component in nx.strongly_connected_components(graph):
            sub = graph.subgraph(component)
            if len(component) == 1 and not sub.has_edge(*(2 * list(component))):
                continue  # downstream of a cycle, not in one
            # Spell the cycle as users wrote it: "x after y after ... after x",
            # starting from the smallest id so that the message is stable.
            forward = [self.fragments[u].fragment_id for u, _ in nx.find_cycle(sub)]
            ids = forward[:1] + forward[:0:-1]
            start = ids.index(min(ids))
            ids = ids[start:] + ids[:start]
            text = "dependency cycle: " + " after ".join([*ids, ids[0]])
            for index in component:
                self._fail(self.tests[self.fragments[index].test_id], text)


def topological_order(fragments: list[Fragment]) -> list[int]:
    """Kahn's algorithm, in index order among ready nodes; shorter if cyclic."""
    indegree = [len(f.preds) for f in fragments]
    order = [f.index for f in fragments if not f.preds]
    i = 0
    while i < len(order):
        for succ in fragments[order[i]].succs:
            indegree[succ] -= 1
            if indegree[succ] == 0:
                order.append(succ)
        i += 1
    return order


def set_critical_path_priorities(plan: Plan, estimates: dict[str, float]) -> None:
    """Priority = estimated length of the longest path from a node to the end.

    Estimates are per testcase (from the previous run) and spread evenly on
    its fragments; unknown ones use DEFAULT_FRAGMENT_ESTIMATE. Nodes in a
    cycle keep priority 0: they never run.
    """
    fragments = plan.fragments
    own: dict[str, float] = {}
    for test_id, planned in plan.tests.items():
        known = estimates.get(test_id)
        count = max(1, len(planned.fragments))
        own[test_id] = known / count if known is not None else DEFAULT_FRAGMENT_ESTIMATE
    for index in reversed(topological_order(fragments)):
        fragment = fragments[index]
        tail = max((fragments[s].priority for s in fragment.succs), default=0.0)
        fragment.priority = own[fragment.test_id] + tail


def set_shuffled_priorities(plan: Plan, seed: int) -> None:
    """Priority = a number drawn from ``seed`` and the testcase's id (``--shuffle``), for all its fragments.

    Drawn per id, not in turn: a testcase keeps its place among the others
    whatever else is selected, so that a shuffled order that failed can be
    narrowed down (``--shuffle-seed SEED a b``) without changing.
    """
    import hashlib  # only for --shuffle: not at every start

    for fragment in plan.fragments:
        digest = hashlib.blake2b(f"{seed}:{fragment.test_id}".encode(), digest_size=8).digest()
        fragment.priority = int.from_bytes(digest, "big") / 2**64


def describe(plan: Plan) -> dict[str, Any]:
    """Small statistics for logs and benchmarks."""
    return {
        "tests": len(plan.tests),
        "fragments": len(plan.fragments),
        "edges": sum(len(f.preds) for f in plan.fragments),
    }
