#! /usr/bin/env python3
# The tutorial testsuite of e3-testsuite's documentation (doc/tutorial.rst),
# Copyright AdaCore, GPL-3.0 (see ../LICENSES.md); unmodified but for this header.

import sys

from e3.testsuite import Testsuite
from e3.testsuite.driver.diff import DiffTestDriver


class ComputationDriver(DiffTestDriver):
    """Driver to run a computation through "bc" and check its output.

    This passes the "input.bc" to "bc" and check its output against the
    "test.out" baseline file.
    """

    def run(self):
        self.shell(["bc", "input.bc"])


class BcTestsuite(Testsuite):
    """Testsuite for the bc(1) calculator."""

    test_driver_map = {"computation": ComputationDriver}
    default_driver = "computation"


if __name__ == "__main__":
    sys.exit(BcTestsuite().testsuite_main())
