#!/usr/bin/env python3
"""Callbacks that are closures (they run: nothing sends them locally, cloudpickle sends them to Dask)
and a return value that cannot be pickled (an ERROR naming the fragment: it cannot come back from a worker)."""

import sys
import threading

from e3suite import FragmentContext, TestDriver, Testsuite, TestStatus


class ClosureDriver(TestDriver):
    def add_fragments(self) -> None:
        kind = self.test_env.get("kind")
        if kind == "lambda":
            self.add_fragment("run", lambda ctx: ctx.result.set_status(TestStatus.PASS, "a lambda ran"))
        elif kind == "closure":
            greeting = "a closure ran"

            def run(ctx: FragmentContext) -> str:
                return greeting

            self.add_fragment("run", run)
            self.add_fragment("check", self.check, after=["run"])
        elif kind == "lock":
            self.add_fragment("run", self.lock)
        else:
            self.add_fragment("run", self.run)

    def check(self, ctx: FragmentContext) -> None:
        ctx.result.set_status(TestStatus.PASS, ctx.previous["run"])

    def lock(self, ctx: FragmentContext) -> threading.Lock:
        return threading.Lock()

    def run(self, ctx: FragmentContext) -> None:
        ctx.result.set_status(TestStatus.PASS)


class Suite(Testsuite):
    test_driver_map = {"closure": ClosureDriver}
    default_driver = "closure"


if __name__ == "__main__":
    sys.exit(Suite().main())
