#!/usr/bin/env python3
"""A sample testsuite for e3suite's own end-to-end scenarios.

The scenario driver copies this file as ``testsuite.py`` into a scenario's
sample suite when the suite brings none. Its ``steps`` driver does what each
testcase's ``test.yaml`` says, so that every engine behaviour (verdicts,
dependencies, return values, crashes, hangs) can be staged without writing
Python. Each entry of ``fragments`` is a fragment::

    fragments:
      - name: build
        return: 42                # the callback's return value
      - name: run
        after: [build, other/t:build]
        log_previous: true        # log ctx.previous, sorted
        sleep: 0.5                # time.sleep
        shell: "echo hi"          # run a /bin/sh command (ctx.shell), log its output
        raise: "boom"             # raise RuntimeError("boom")
        exit: 3                   # os._exit(3): the process running it dies
        status: PASS              # ctx.result.set_status(...)
        message: "all good"

The keys act in the order listed above.

The suite also maps ``command`` (one fragment running ``cmd`` through
``ctx.shell``; ``crash: SIGSEGV`` kills the process running it first) and
the stock YAML-only types ``shell`` and ``diff``; control conditions see
the facts ``facts.gpu`` (False) and ``facts.level`` (2).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

from e3suite import FragmentContext, TestDriver, TestStatus, Testsuite
from e3suite.drivers import DiffDriver, ShellDriver


class StepsDriver(TestDriver):
    def add_fragments(self) -> None:
        for step in self.test_env.get("fragments") or [{"name": "run", "status": "PASS"}]:
            self.add_fragment(step["name"], self.run_step, after=step.get("after", ()))

    def run_step(self, ctx: FragmentContext) -> Any:
        name = ctx.fragment_id[len(ctx.test_id) + 1 :]
        step = next(s for s in self.test_env.get("fragments") or [{"name": "run", "status": "PASS"}]
                    if s["name"] == name)
        if step.get("log_previous"):
            ctx.result.log += f"{name}: previous = {dict(sorted(ctx.previous.items()))}\n"
        if "sleep" in step:
            time.sleep(float(step["sleep"]))
        if "shell" in step:
            ctx.result.log += ctx.shell(step["shell"]).output
        if "raise" in step:
            raise RuntimeError(step["raise"])
        if "exit" in step:
            sys.stdout.flush()
            os._exit(int(step["exit"]))
        if "status" in step:
            ctx.result.set_status(TestStatus[step["status"]], step.get("message", ""))
        return step.get("return")


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


class SampleSuite(Testsuite):
    """A sample testsuite driven by test.yaml."""

    test_driver_map = {"steps": StepsDriver, "command": CommandDriver, "shell": ShellDriver, "diff": DiffDriver}
    default_driver = "steps"

    def condition_facts(self) -> dict[str, Any]:
        return {"facts": {"gpu": False, "level": 2}}


if __name__ == "__main__":
    sys.exit(SampleSuite().main())
