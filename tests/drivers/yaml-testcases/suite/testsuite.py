#!/usr/bin/env python3
"""A sample suite mapping the stock YAML-only test types."""

import sys

from e3suite import Testsuite
from e3suite.drivers import DiffDriver, ShellDriver


class Suite(Testsuite):
    test_driver_map = {"shell": ShellDriver, "diff": DiffDriver}

    def condition_facts(self):
        return {"facts": {"gpu": False, "level": 2}}


if __name__ == "__main__":
    sys.exit(Suite().main())
