"""Tasks sent to local workers by reference: what a fragment sees is what a pickled task gave it.

The local executor sends a fragment's index and the parts of its attempt;
the worker rebuilds the rest from its copy of the plan. Each fragment still
gets a driver of its own: what one fragment sets on its driver, or at the
top of test_env, is not seen by the next fragment the same worker runs (a
later fragment, another testcase, the next attempt).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from drivers_support import make_suite, run_suite

SUITE = '''
import os
import sys
from e3suite import Testsuite
from e3suite.driver import TestDriver
from e3suite.model import TestStatus


class Stateful(TestDriver):
    retries = 1

    def add_fragments(self):
        self.add_fragment("first", self.first)
        self.add_fragment("second", self.second, after=["first"])

    def first(self, ctx):
        seen = [getattr(self, "mark", None), self.test_env.get("added")]
        self.mark = ctx.test_id
        self.test_env["added"] = ctx.attempt
        self.test_env.setdefault("counter", []).append(ctx.attempt)  # nested: shared, see the docs
        return {"seen": seen, "pid": os.getpid(), "options": self.options is ctx.options}

    def second(self, ctx):
        seen = [getattr(self, "mark", None), self.test_env.get("added"), ctx.previous["first"]["seen"]]
        if seen != [None, None, [None, None]]:
            ctx.result.set_status(TestStatus.FAIL, f"saw {seen}")
        elif self.test_env.get("flaky") and ctx.attempt == 1:
            ctx.result.set_status(TestStatus.FAIL, "first attempt fails")
        else:
            ctx.result.set_status(TestStatus.PASS, f"worker {ctx.previous['first']['pid']}")


class Suite(Testsuite):
    test_driver_map = {"stateful": Stateful}


if __name__ == "__main__":
    sys.exit(Suite().main())
'''


@pytest.mark.parametrize("jobs", ["-j1", "-j2"])
def test_each_fragment_has_a_driver_of_its_own(tmp_path: Path, jobs: str) -> None:
    files = {f"tests/t{i}/test.yaml": "driver: stateful\n" for i in range(6)}
    files["tests/flaky/test.yaml"] = "driver: stateful\nflaky: true\n"
    root = make_suite(tmp_path / "suite", files, suite=SUITE)
    run = run_suite(root, jobs)
    assert run.code == 0, run.stdout + run.stderr
    statuses = {test: r["status"] for test, r in run.results.items()}
    assert statuses == {**{f"t{i}": "PASS" for i in range(6)}, "flaky": "FLAKY"}, run.stdout
    assert len(run.results["flaky"]["attempts"]) == 2
    # One worker ran every fragment at -j1: the plan's drivers stayed as planned.
    if jobs == "-j1":
        workers = {r["message"] for r in run.results.values() if r["id"] != "flaky"}
        assert len(workers) == 1, workers
