#!/usr/bin/env python3
"""e3suite's own end-to-end testsuite: e3suite runs sample testsuites.

Each testcase under tests/ stages a small sample testsuite and checks what a
user would see: verdicts, summary lines, exit codes, files written.
"""

import sys

from drivers.scenario import ScenarioDriver
from e3suite import Testsuite


class E3suiteTestsuite(Testsuite):
    """The self-hosted testsuite of e3suite."""

    tests_subdir = "tests"
    test_driver_map = {"scenario": ScenarioDriver}
    default_driver = "scenario"


if __name__ == "__main__":
    sys.exit(E3suiteTestsuite().main())
