#!/usr/bin/env python3
"""A driver whose callback is a closure: it cannot be sent to a worker process."""

import sys

from e3suite import FragmentContext, TestDriver, Testsuite, TestStatus


class ClosureDriver(TestDriver):
    def add_fragments(self) -> None:
        if self.test_env.get("closure"):
            self.add_fragment("run", lambda ctx: ctx.result.set_status(TestStatus.PASS))
        else:
            self.add_fragment("run", self.run)

    def run(self, ctx: FragmentContext) -> None:
        ctx.result.set_status(TestStatus.PASS)


class Suite(Testsuite):
    test_driver_map = {"closure": ClosureDriver}
    default_driver = "closure"


if __name__ == "__main__":
    sys.exit(Suite().main())
