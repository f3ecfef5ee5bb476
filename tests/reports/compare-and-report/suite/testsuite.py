#!/usr/bin/env python3
"""A sample suite whose verdicts change between two rounds (the file ``round``).

test.yaml: ``round1``/``round2``: the verdict in that round (absent: the
testcase does not exist in that round), ``sleep2``: seconds to sleep in
round 2, ``log``: a line to log.
"""

import sys
import time
from pathlib import Path

from e3suite import FragmentContext, TestDriver, Testsuite, TestStatus

ROOT = Path(__file__).resolve().parent


def current_round() -> int:
    path = ROOT / "round"
    return int(path.read_text()) if path.exists() else 1


class FlipDriver(TestDriver):
    def add_fragments(self) -> None:
        self.add_fragment("run", self.run)

    def run(self, ctx: FragmentContext) -> None:
        n = current_round()
        if n == 2 and "sleep2" in self.test_env:
            time.sleep(float(self.test_env["sleep2"]))
        if "log" in self.test_env:
            ctx.result.log += self.test_env["log"] + "\n"
        verdict, _, message = str(self.test_env[f"round{n}"]).partition(" ")
        ctx.result.set_status(TestStatus[verdict], message)


class RoundSuite(Testsuite):
    test_driver_map = {"flip": FlipDriver}
    default_driver = "flip"

    def discover(self):  # type: ignore[no-untyped-def]
        # A testcase without a verdict for this round does not exist in it.
        key = f"round{current_round()}"
        return [(i, d) for i, d in super().discover() if key in (d / "test.yaml").read_text()]


if __name__ == "__main__":
    sys.exit(RoundSuite().main())
