#!/usr/bin/env python3
"""Retries, FLAKY and when="always", staged from test.yaml.

``fails: N``: the first N attempts of ``run`` fail (a counter file in the
working directory's parent, the run's working root, counts them);
``build_fails: true``: the build fails for good, and a ``when="always"``
cleanup still runs and logs how the build ended; ``after``: dependencies of
``run``; ``hang``: ``run`` runs a command for that long (its timeout is 1 s).
"""

import sys

from e3suite import FragmentContext, TestDriver, Testsuite, TestStatus


class FlakyDriver(TestDriver):
    def add_fragments(self) -> None:
        self.add_fragment("build", self.build)
        self.add_fragment("run", self.run, after=["build", *self.test_env.get("after", [])], timeout=1)
        self.add_fragment("cleanup", self.cleanup, after=["build"], when="always")

    def build(self, ctx: FragmentContext) -> str:
        if self.test_env.get("build_fails"):
            ctx.result.set_status(TestStatus.FAIL, "the build failed")
        return "built"

    def run(self, ctx: FragmentContext) -> None:
        counter = ctx.working_dir.parent / f"{ctx.test_id}.attempts"
        tries = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(tries))
        attempt = ctx.shell("echo $E3SUITE_ATTEMPT").output.strip()
        if "hang" in self.test_env:
            ctx.shell(f"sleep {self.test_env['hang']}")
            return
        if tries <= self.test_env.get("fails", 0):
            ctx.result.set_status(TestStatus.FAIL, f"try {tries} failed (E3SUITE_ATTEMPT={attempt})")
        else:
            ctx.result.set_status(TestStatus.PASS, f"try {tries} passed (ctx.attempt={ctx.attempt})")

    def cleanup(self, ctx: FragmentContext) -> None:
        build = ctx.outcomes["build"]
        ctx.result.log += f"cleanup: build {build.state.value.lower()}, verdict so far {build.verdict}\n"


class Suite(Testsuite):
    test_driver_map = {"flaky": FlakyDriver}
    default_driver = "flaky"


if __name__ == "__main__":
    sys.exit(Suite().main())
