#!/usr/bin/env python3
"""A testsuite SIGKILLed as it starts when KILL_AT_START is set: its journal made, nothing in it yet.

``run_metadata`` is what the run records first (its journal's ``run_started``
line): killed there, the run leaves the empty journal of its results
directory, as a kill at that very moment (a CI timeout, the OOM killer) does.
"""

import os
import signal
import sys
from typing import Any

from e3suite import Testsuite
from e3suite.drivers import ShellDriver


class KilledAtStart(Testsuite):
    test_driver_map = {"shell": ShellDriver}
    default_driver = "shell"

    def run_metadata(self) -> dict[str, Any]:
        if os.environ.get("KILL_AT_START"):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().run_metadata()


if __name__ == "__main__":
    sys.exit(KilledAtStart().main())
