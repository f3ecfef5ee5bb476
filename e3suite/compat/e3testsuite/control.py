"""e3-testsuite's test control: the ``control:`` entries of test.yaml.

A ``TestControlCreator`` turns a driver's test environment into a
``TestControl`` (skip? expected to fail? with which message).
``YAMLTestControlCreator`` evaluates ``control:`` entries (``[KIND,
"python condition", "message"]``, the first whose condition holds wins) as
e3-testsuite 27.x does, with ``env`` bound to the testsuite's environment.
This module only computes a TestControl: it must never set a verdict.
"""

from __future__ import annotations

import enum
import os
from typing import Any, NoReturn


class TestControlKind(enum.Enum):
    """NONE: run normally; SKIP: do not run; XFAIL: a failure is expected."""

    __test__ = False

    NONE = 0
    SKIP = 1
    XFAIL = 2


class TestControl:
    """What to do with one testcase."""

    __test__ = False

    def __init__(self, message: str | None = None, skip: bool = False, xfail: bool = False) -> None:
        self.skip = skip
        self.xfail = xfail
        self.message = message
        self.opt_results: dict[str, Any] | None = None


class TestControlCreator:
    """Builds the TestControl of a driver (raise ValueError for a bad configuration)."""

    __test__ = False

    def create(self, driver: Any) -> TestControl:
        raise NotImplementedError


class YAMLTestControlCreator(TestControlCreator):
    """Reads the ``control`` key of test.yaml; ``condition_env`` adds names to conditions."""

    def __init__(self, condition_env: dict[str, Any] | None = None) -> None:
        self.condition_env = {} if condition_env is None else condition_env

    def create(self, driver: Any) -> TestControl:
        if os.path.exists(driver.test_dir("test.opt")):
            import logging

            logging.getLogger("testsuite").warning(
                '%s: "test.opt" file found whereas only "control" entries are considered',
                driver.test_env["test_name"],
            )
        if "control" not in driver.test_env:
            return TestControl()
        control = driver.test_env["control"]
        names = dict(self.condition_env)
        names["env"] = driver.env
        if not isinstance(control, list):
            raise ValueError("list expected at the top level")
        entries: list[tuple[TestControlKind, Any, str | None]] = []
        for number, entry in enumerate(control, 1):

            def error(message: str, number: int = number) -> NoReturn:
                raise ValueError(f"entry #{number}: {message}")

            if not isinstance(entry, list) or len(entry) not in (2, 3) or not all(isinstance(s, str) for s in entry):
                error("list of 2 or 3 strings expected")
            try:
                kind = TestControlKind[entry[0]]
            except KeyError:
                error(f"invalid kind: {entry[0]}")
            try:
                condition = eval(entry[1], names)  # test.yaml conditions are Python, by design
            except Exception as exc:
                error(f"invalid condition ({type(exc).__name__}): {exc}")
            entries.append((kind, condition, entry[2] if len(entry) > 2 else None))
        for kind, condition, message in entries:
            if condition:
                return TestControl(message, kind is TestControlKind.SKIP, kind is TestControlKind.XFAIL)
        return TestControl()


class AdaCoreLegacyTestControlCreator(TestControlCreator):
    """Not supported: test.opt files need e3-testsuite's optfile parser."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from e3suite.compat.e3testsuite.unsupported import refuse

        refuse("e3.testsuite.control.AdaCoreLegacyTestControlCreator (test.opt files)")
