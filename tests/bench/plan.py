#!/usr/bin/env python3
"""How much planning costs: 50,000 fragments, built, validated and prioritised.

Usage: python tests/bench/plan.py [--tests N] [--rounds R]

Each testcase declares 5 chained fragments (so 10,000 testcases give 50,000
fragments and 40,000 edges), and every 10th testcase also depends on the
build of testcase 0, as "build once, test many" suites do. For comparison
the script times e3-core's DAG (what e3-testsuite uses) on the same graph:
adding the vertices, then iterating it in dependency order.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from e3suite.discovery import Testcase
from e3suite.driver import FragmentContext, TestDriver
from e3suite.engine import Engine
from e3suite.executors.inprocess import InProcessExecutor
from e3suite.plan import build_plan
from e3suite.store import ResultsWriter

STEPS = ("configure", "build", "link", "run", "check")


class ChainDriver(TestDriver):
    def add_fragments(self) -> None:
        previous: list[str] = []
        for step in STEPS:
            after = list(previous)
            if step == "build" and self.test_env.get("shared"):
                after.append("t00000:build")
            self.add_fragment(step, self.noop, after=after)
            previous = [step]

    def noop(self, ctx: FragmentContext) -> None:
        if ctx.fragment_id.endswith(":check"):
            from e3suite import TestStatus

            ctx.result.set_status(TestStatus.PASS)


def make_cases(count: int) -> list[Testcase]:
    return [
        Testcase(f"t{i:05d}", Path("/nonexistent"), {"shared": i % 10 == 1}, ChainDriver)
        for i in range(count)
    ]


def time_plan(count: int) -> tuple[float, Any]:
    cases = make_cases(count)
    start = time.perf_counter()
    plan = build_plan(cases, argparse.Namespace(), Path("/nonexistent"))
    return time.perf_counter() - start, plan


def time_e3_dag(count: int) -> tuple[float, float, float]:
    """e3-core's DAG as e3-testsuite drives it: build, check, busy-state iteration."""
    from e3.collection.dag import DAG, DAGIterator

    dag = DAG()
    start = time.perf_counter()
    for i in range(count):
        test = f"t{i:05d}"
        previous: list[str] = []
        for step in STEPS:
            preds = [f"{test}:{p}" for p in previous]
            if step == "build" and i % 10 == 1:
                preds.append("t00000:build")
            dag.update_vertex(f"{test}:{step}", predecessors=preds, enable_checks=False)
            previous = [step]
    built = time.perf_counter() - start
    start = time.perf_counter()
    dag.check()
    checked = time.perf_counter() - start
    start = time.perf_counter()
    iterator = DAGIterator(dag, enable_busy_state=True)
    while True:
        try:
            vertex_id, _, _ = iterator.next_element()
        except StopIteration:
            break
        if vertex_id is None:
            break
        iterator.leave(vertex_id)
    return built, checked, time.perf_counter() - start


def time_engine(plan: Any) -> float:
    """Schedule the whole plan through the engine with no-op callbacks."""
    with tempfile.TemporaryDirectory() as tmp:
        writer = ResultsWriter(Path(tmp))
        engine = Engine(plan, InProcessExecutor(1), writer, argparse.Namespace())
        start = time.perf_counter()
        engine.run()
        elapsed = time.perf_counter() - start
        writer.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-e3", action="store_true", help="do not time e3-core's DAG")
    args = parser.parse_args()
    fragments = args.tests * len(STEPS)
    plans: list[float] = []
    e3_builds: list[float] = []
    e3_checks: list[float] = []
    e3_iters: list[float] = []
    plan = None
    for _ in range(args.rounds):
        elapsed, plan = time_plan(args.tests)
        plans.append(elapsed)
        if not args.skip_e3:
            built, checked, iterated = time_e3_dag(args.tests)
            e3_builds.append(built)
            e3_checks.append(checked)
            e3_iters.append(iterated)
    print(f"{args.tests} testcases, {fragments} fragments, median of {args.rounds} rounds")
    print(f"  e3suite plan (drivers, edges, cycle check, priorities): {statistics.median(plans):.3f} s")
    if not args.skip_e3:
        print(f"  e3-core DAG: build {statistics.median(e3_builds):.3f} s, check {statistics.median(e3_checks):.3f} s, "
              f"iterate with busy states {statistics.median(e3_iters):.3f} s")
    assert plan is not None
    print(f"  e3suite engine, all fragments scheduled in-process (no-op callbacks, results written): "
          f"{time_engine(plan):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
