"""e3-testsuite's testcase finders: which directories hold testcases.

``YAMLTestFinder`` (a ``test.yaml`` per testcase, its ``driver`` key naming
the driver) and ``AdaCoreLegacyTestFinder`` (directories named like
ticket numbers), plus the ``TestFinder`` base class testsuites subclass.
A finder only probes one directory and returns ``ParsedTest`` objects: it
must never instantiate drivers or run anything.
"""

from __future__ import annotations

import collections.abc
import os
import re
from dataclasses import dataclass, field
from typing import Any

import e3.yaml
import yaml
from e3.env import Env


@dataclass
class ParsedTest:
    """A testcase a finder found: its name, driver class, environment, directory."""

    test_name: str
    driver_cls: type | None
    test_env: dict[str, Any]
    test_dir: str
    test_matcher: str | None = field(default=None)


TestFinderResult = ParsedTest | list[ParsedTest] | None


class ProbingError(Exception):
    """A directory that looks like a testcase but cannot be one (its message says why)."""


class TestFinder:
    """Probes directories for testcases."""

    __test__ = False

    @property
    def test_dedicated_directory(self) -> bool:
        """Whether each testcase has a directory of its own (patterns then match directories)."""
        return True

    def probe(self, testsuite: Any, dirpath: str, dirnames: list[str], filenames: list[str]) -> TestFinderResult:
        raise NotImplementedError


class YAMLTestFinder(TestFinder):
    """A directory with ``test.yaml`` is a testcase; test.yaml is its environment."""

    def probe(self, testsuite: Any, dirpath: str, dirnames: list[str], filenames: list[str]) -> TestFinderResult:
        if "test.yaml" not in filenames:
            return None
        test_name = testsuite.test_name(dirpath)
        try:
            # e3-core's loader, as e3-testsuite: "case_*" keys select values by platform.
            test_env = e3.yaml.load_with_config(os.path.join(dirpath, "test.yaml"), Env().to_dict())
        except (OSError, e3.yaml.YamlError, yaml.YAMLError) as exc:
            # e3-core wraps PyYAML's parser errors, not its scanner's (an
            # unterminated string, a tab): those are bad syntax too, and get
            # the testcase its ERROR instead of stopping the whole run.
            raise ProbingError("invalid syntax for test.yaml") from exc
        if test_env is None:
            test_env = {}
        elif not isinstance(test_env, collections.abc.Mapping):
            raise ProbingError("invalid format for test.yaml")
        driver_name = test_env.get("driver")
        driver_cls = None
        if driver_name is not None:
            try:
                driver_cls = testsuite.test_driver_map[driver_name]
            except (KeyError, TypeError) as exc:
                raise ProbingError("cannot find driver") from exc
        return ParsedTest(test_name, driver_cls, dict(test_env), dirpath)


class AdaCoreLegacyTestFinder(TestFinder):
    """Directories named like ticket numbers (``AB12-C34``) are testcases of one driver."""

    TN_RE = re.compile("[0-9A-Z]{2}[0-9]{2}-[A-Z0-9]{3}")

    def __init__(self, driver_cls: type) -> None:
        self.driver_cls = driver_cls

    def probe(self, testsuite: Any, dirpath: str, dirnames: list[str], filenames: list[str]) -> TestFinderResult:
        dirname = os.path.basename(dirpath)
        if not self.TN_RE.match(dirname):
            return None
        return ParsedTest(dirname, self.driver_cls, {}, dirpath)
