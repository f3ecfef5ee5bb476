#!/usr/bin/env python3
"""Planning cost of wide testcases: is it linear?

Usage: python tests/bench/plan_wide.py [--sizes 4000,8000,16000,32000]

Two shapes that were quadratic once (issue 8): one testcase declaring N
fragments, and one fragment ``after`` N others of its testcase. For each
size it prints the time to build the plan and the ratio to the size before:
about 2 per doubling is linear, about 4 quadratic.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from e3suite.discovery import Testcase
from e3suite.driver import FragmentContext, TestDriver
from e3suite.plan import build_plan


def nothing(ctx: FragmentContext) -> None:
    return None


class ManyFragments(TestDriver):
    def add_fragments(self) -> None:
        for i in range(self.test_env["count"]):
            self.add_fragment(f"f{i}", nothing)


class OneAfterMany(TestDriver):
    def add_fragments(self) -> None:
        count = self.test_env["count"]
        for i in range(count):
            self.add_fragment(f"f{i}", nothing)
        self.add_fragment("last", nothing, after=[f"f{i}" for i in range(count)])


def plan_time(driver: type[TestDriver], count: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        case = Testcase(test_id="wide", test_dir=Path(tmp), test_env={"count": count}, driver_class=driver)
        options: Any = argparse.Namespace()
        start = time.perf_counter()
        plan = build_plan([case], options, Path(tmp) / "work")
        elapsed = time.perf_counter() - start
        assert plan.tests["wide"].error is None, plan.tests["wide"].error
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4000,8000,16000,32000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    for label, driver in (("fragments in one testcase", ManyFragments), ("after entries of one fragment", OneAfterMany)):
        previous = None
        for size in sizes:
            elapsed = min(plan_time(driver, size) for _ in range(3))
            ratio = f"  x{elapsed / previous:.2f}" if previous else ""
            print(f"{label:32} {size:>7}: {elapsed * 1000:8.1f} ms{ratio}")
            previous = elapsed


if __name__ == "__main__":
    main()
