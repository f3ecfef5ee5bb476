#!/usr/bin/env python3
"""A sample suite whose round 1 is SIGKILLed by its testcase ``b`` (the file ``round`` says which round).

test.yaml: ``round1``/``round2``: the verdict in that round; ``kill1``: round
1 kills the engine itself there (run it with --in-process).
"""

import os
import signal
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
        if n == 1 and self.test_env.get("kill1"):
            # The results before it are written by a thread of the engine: wait until they are in.
            journal = ROOT / "out" / "new" / "journal.jsonl"
            deadline = time.monotonic() + 60
            while '{"test":"a","status"' not in journal.read_text() and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(os.getpid(), signal.SIGKILL)  # a CI timeout, say
        verdict, _, message = str(self.test_env[f"round{n}"]).partition(" ")
        ctx.result.set_status(TestStatus[verdict], message)


class RoundSuite(Testsuite):
    test_driver_map = {"flip": FlipDriver}
    default_driver = "flip"


if __name__ == "__main__":
    sys.exit(RoundSuite().main())
