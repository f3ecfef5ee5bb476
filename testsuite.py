#!/usr/bin/env python3
"""e3suite's own end-to-end testsuite: e3suite runs sample testsuites.

Each testcase under tests/ stages a small sample testsuite and checks what a
user would see: verdicts, summary lines, exit codes, files written
(``scenario`` testcases), or runs one command and compares its output with
a baseline (``diff``) or checks its exit status (``shell``).
"""

import os
import sys
from pathlib import Path

from drivers.scenario import ScenarioDriver
from e3suite import Testsuite
from e3suite.drivers import DiffDriver, ShellDriver


class E3suiteTestsuite(Testsuite):
    """The self-hosted testsuite of e3suite."""

    tests_subdir = "tests"
    test_driver_map = {"scenario": ScenarioDriver, "diff": DiffDriver, "shell": ShellDriver}
    default_driver = "scenario"

    def set_up(self) -> None:
        # In `diff` and `shell` testcases, `python` and `e3suite` mean the
        # interpreter running this suite and its e3suite, not whatever PATH has.
        bin_dir = str(Path(sys.executable).parent)
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.root_dir), os.environ.get("PYTHONPATH")]))

    def condition_facts(self) -> dict[str, object]:
        # tests/distributed/* skip, with the reason, where Dask, sshd or Slurm is missing.
        from drivers.services import available_services

        return {"services": available_services()}


if __name__ == "__main__":
    sys.exit(E3suiteTestsuite().main())
