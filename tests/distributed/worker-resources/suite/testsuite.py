#!/usr/bin/env python3
"""Testcases holding Dask worker resources, from test.yaml (command) or from their driver (gpus)."""

import sys

from e3suite import FragmentContext, TestDriver, TestStatus, Testsuite


class CommandDriver(TestDriver):
    def add_fragments(self) -> None:
        self.add_fragment("run", self.run)

    def run(self, ctx: FragmentContext) -> None:
        result = ctx.shell(self.test_env["cmd"])
        ctx.result.log += result.output
        ctx.result.set_status(TestStatus.PASS if result.ok else TestStatus.FAIL, result.describe())


class GpusDriver(TestDriver):
    """The driver says what its fragment holds: add_fragment(resources=...)."""

    def add_fragments(self) -> None:
        self.add_fragment("run", self.run, resources={"gpu": int(self.test_env["gpus"])})

    def run(self, ctx: FragmentContext) -> None:
        ctx.result.set_status(TestStatus.PASS, "ran")


class Suite(Testsuite):
    test_driver_map = {"command": CommandDriver, "gpus": GpusDriver}


if __name__ == "__main__":
    sys.exit(Suite().main())
