"""e3-testsuite's testcase finders: which directories hold testcases.

``YAMLTestFinder`` (a ``test.yaml`` per testcase, its ``driver`` key naming
the driver) and ``AdaCoreLegacyTestFinder`` (directories named like
ticket numbers), plus the ``TestFinder`` base class testsuites subclass.
A finder only probes one directory and returns ``ParsedTest`` objects: it
must never instantiate drivers or run anything.
"""

from __future__ import annotations

import collections.abc
import contextlib
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
        path = os.path.join(dirpath, "test.yaml")
        try:
            # e3-core's loader, as e3-testsuite: "case_*" keys select values by platform.
            test_env = e3.yaml.load_with_config(path, Env().to_dict())
        except (OSError, e3.yaml.YamlError, yaml.YAMLError) as exc:
            # e3-core wraps PyYAML's parser errors, not its scanner's (an
            # unterminated string, a tab): those are bad syntax too, and get
            # the testcase its ERROR instead of stopping the whole run.
            raise ProbingError("invalid syntax for test.yaml") from exc
        except UnicodeDecodeError as exc:
            # e3-core reads test.yaml as text, with the locale's encoding (UTF-8)
            raise ProbingError(f"invalid test.yaml: {path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
        except (KeyError, TypeError, re.error) as exc:
            # What e3-core's case_* evaluation raises, unwrapped: a variable
            # Env does not have (case_nosuch), a case on a number, a pattern
            # that is no regexp. e3-testsuite stops the whole run on it.
            raise ProbingError(f"invalid test.yaml: {path}: {_case_problem(path, exc)}") from None
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


def _case_problem(path: str, exc: Exception) -> str:
    """What is wrong with a ``case_*`` key of test.yaml ``path`` (e3-core's exception does not name it)."""
    cases: list[str] = []
    with contextlib.suppress(OSError, yaml.YAMLError):
        with open(path, encoding="utf-8") as stream:
            data = yaml.safe_load(stream)
        if isinstance(data, collections.abc.Mapping):
            cases = [str(key) for key in data if str(key).startswith("case_")]
    if isinstance(exc, KeyError) and exc.args:
        variable = str(exc.args[0])
        return f"case_{variable}: no variable {variable!r} in e3's Env (e3.env.Env().to_dict())"
    where = ", ".join(cases) or "case_*"
    kind = "invalid regexp" if isinstance(exc, re.error) else type(exc).__name__
    return f"{where}: {kind}: {exc}"


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
