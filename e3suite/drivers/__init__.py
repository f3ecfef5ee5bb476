"""Stock drivers: what most testsuites map their test types to.

- ``ClassicDriver``: base of most drivers (set_up, run, analyze, tear_down);
- ``ShellDriver``: YAML-only ``shell`` test type (run ``cmd``, check ``status``);
- ``DiffDriver``: YAML-only ``diff`` test type, and the base of drivers that
  compare an output with a baseline;
- ``TestSkip``, ``TestAbortWithError``, ``TestAbortWithFailure``: raise them
  in a ClassicDriver to end with SKIP, ERROR or FAIL;
- ``e3suite.drivers.refiners``: output refiners for baselines.

Map them in ``test_driver_map`` like any driver::

    from e3suite.drivers import DiffDriver, ShellDriver

    class MySuite(Testsuite):
        test_driver_map = {"shell": ShellDriver, "diff": DiffDriver}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from e3suite.drivers.classic import ClassicDriver, TestAbortWithError, TestAbortWithFailure, TestSkip
from e3suite.drivers.shell import ShellDriver

if TYPE_CHECKING:
    from e3suite.drivers.diff import DiffDriver

__all__ = [
    "ClassicDriver",
    "DiffDriver",
    "ShellDriver",
    "TestAbortWithError",
    "TestAbortWithFailure",
    "TestSkip",
]


def __getattr__(name: str) -> Any:
    # DiffDriver (baselines, refiners, difflib) is imported when a suite
    # names it: a suite of ``shell`` testcases starts without it (PEP 562).
    if name == "DiffDriver":
        from e3suite.drivers.diff import DiffDriver

        return DiffDriver
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
