#!/usr/bin/env python3
"""A sample suite whose fragments run commands through ctx.shell (e3suite.process)."""

import os
import signal
import sys

from e3suite import FragmentContext, TestDriver, Testsuite, TestStatus


class CommandDriver(TestDriver):
    """test.yaml: ``cmd`` (a string for /bin/sh or an argv), optional ``crash`` (a signal name)."""

    def add_fragments(self) -> None:
        self.add_fragment("run", self.run)

    def run(self, ctx: FragmentContext) -> None:
        if "crash" in self.test_env:
            os.kill(os.getpid(), getattr(signal, self.test_env["crash"]))
        result = ctx.shell(self.test_env["cmd"])
        ctx.result.log += result.output
        ctx.result.set_status(TestStatus.PASS if result.ok else TestStatus.FAIL, result.describe())


class ProcessSuite(Testsuite):
    test_driver_map = {"command": CommandDriver}
    default_driver = "command"


if __name__ == "__main__":
    sys.exit(ProcessSuite().main())
