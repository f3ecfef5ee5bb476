"""Which testcases a run has: discovery, selection, ``--failed``, ``--shard``, test.yaml read.

A mixin of ``e3suite.testsuite.Testsuite`` (its public hooks stay the
testsuite's: ``load_testcases``, ``condition_facts`` and the rest are
overridden there); the attributes and methods declared below are the
testsuite's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import e3suite.control as control
import e3suite.discovery as discovery
import e3suite.matrix as matrix
import e3suite.rerun as rerun
import e3suite.store as store
from e3suite.driver import TestDriver
from e3suite.output_dir import last_run

if TYPE_CHECKING:
    import e3suite.shard as shard
    from e3suite.plan import Plan


class ConfigurationError(Exception):
    """A problem of the testsuite's set-up, reported without a traceback."""


class Selection:
    """The testcases of the run; the attributes and methods below are the testsuite's."""

    options: argparse.Namespace
    test_driver_map: dict[str, type[TestDriver]]
    default_driver: str | None
    sharding: shard.Sharding | None
    _names: dict[str, Any] | None

    @property
    def tests_dir(self) -> Path:
        raise NotImplementedError

    def plan(self, cases: list[discovery.Testcase], working_root: Path, by_id: dict[str, Path]) -> Plan:
        raise NotImplementedError

    def check_driver_map(self) -> None:
        """Every value of ``test_driver_map`` is a driver class, and ``default_driver`` one of its keys.

        A usage error before anything runs, not a traceback nor an ERROR of every testcase.
        """
        for name, driver in self.test_driver_map.items():
            if not (isinstance(driver, type) and issubclass(driver, TestDriver)):
                raise ConfigurationError(
                    f"{type(self).__name__}.test_driver_map[{name!r}]: {driver!r} is not a TestDriver subclass"
                )
            retries = getattr(driver, "retries", 0)
            if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
                # Else int() of it in the middle of the run: an internal error, or "2.5" taken as 2.
                raise ConfigurationError(
                    f"{driver.__name__}.retries = {retries!r} (test_driver_map[{name!r}]): "
                    "expected an integer of at least 0, the times a failing testcase is tried again"
                )
        if self.default_driver is not None and self.default_driver not in self.test_driver_map:
            # Else every testcase without a driver key ERRORed "test.yaml: unknown driver", blaming a file
            # that names no driver for the testsuite's typo.
            known = ", ".join(sorted(self.test_driver_map)) or "none"
            raise ConfigurationError(
                f"{type(self).__name__}.default_driver {self.default_driver!r} is not in test_driver_map "
                f"(known: {known})"
            )

    def discover(self) -> list[tuple[str, Path]]:
        if not self.tests_dir.is_dir():
            raise ConfigurationError(f"tests directory {self.tests_dir} does not exist")
        found = _without_working_roots(discovery.find_testcase_dirs(self.tests_dir), self.tests_dir,
                                       getattr(self.options, "temp_dir", None))
        # A run that ran nothing must not pass CI in silence (a tests_subdir
        # or a checkout gone wrong); listing nothing is no error.
        if not found and not self.options.list and getattr(self.options, "no_tests", "fail") == "fail":
            raise ConfigurationError(
                f"no testcase in {self.tests_dir}: a testcase is a directory holding a test.yaml "
                "(--no-tests pass runs nothing and passes)"
            )
        return found

    def select(self, candidates: list[tuple[str, Path]]) -> list[discovery.Testcase]:
        """The testcases the positional arguments select (and ``--failed``), test.yaml read."""
        dir_ids = {test_id for test_id, _ in candidates}
        patterns = [_sub_result_owner(arg, dir_ids) for arg in self.options.tests]
        cases = discovery.select_testcases(candidates, patterns, self.tests_dir, Path.cwd(), self.load_testcases)
        failed, known = self.previous_failures() if getattr(self.options, "failed", False) else (None, None)
        if getattr(self.options, "shard", None) is not None:
            # The whole is split, as the failed run's was (not the failures: docs/sharding.md).
            cases = self.shard_selection(cases, candidates)
        if failed is None:
            return cases
        # A failed sub-result (`<testcase id>/<name>`) is rerun by running its testcase.
        owners = {failed_id.rsplit("/", n)[0] for failed_id in failed for n in range(failed_id.count("/") + 1)}
        # One the last run does not have (new, or new to this shard's part) has no result to carry: it runs.
        return [case for case in cases if case.test_id in owners or (known is not None and case.test_id not in known)]

    def shard_selection(
        self, cases: list[discovery.Testcase], candidates: list[tuple[str, Path]]
    ) -> list[discovery.Testcase]:
        """``--shard K/N``: the selected testcases of this shard's part (docs/sharding.md).

        Dependencies are known once drivers declared fragments: the whole
        selection is planned first (nothing runs, no directory is made),
        then split by dependency groups (e3suite/shard.py).
        """
        import e3suite.shard as shard

        options = self.options
        try:
            durations, history, warning = shard.choose_history(options.shard_history, Path(options.output_dir) / "old")
        except shard.HistoryError as exc:
            raise ConfigurationError(str(exc)) from None
        if warning:
            print(f"e3suite: warning: {warning}", file=sys.stderr)
        probe_root = Path(tempfile.gettempdir()) / f"e3suite-shard-{os.getpid()}"  # planning makes no directory
        try:
            plan = self.plan(cases, probe_root, dict(candidates))
        finally:
            shutil.rmtree(probe_root, ignore_errors=True)
        self.sharding = shard.shard_plan(plan, options.shard, options.shard_by, durations, history)
        lines = self.sharding.balance_lines()
        print("\n".join(lines if options.list else lines[:1]), file=sys.stderr)
        return [case for case in cases if case.test_id in self.sharding.selected]

    def previous_failures(self) -> tuple[set[str], set[str] | None]:
        """(ids the last run of this -o directory did not see pass, every id it has): e3suite/rerun.py."""
        last = last_run(Path(self.options.output_dir))  # DIR/old when DIR/new holds no results
        try:
            return rerun.last_run_ids(last)
        except (store.StoreError, OSError):
            raise ConfigurationError(
                f"--failed: no previous run in {last} to take the failures of (run without --failed first)"
            ) from None

    def condition_facts(self) -> dict[str, Any]:
        """Names for ``control:`` conditions, besides ``env``, ``options`` and ``matrix``."""
        return {}

    def _condition_names(self) -> dict[str, Any]:
        # Computed once, when the first testcase with a control key needs it.
        if self._names is None:
            self._names = control.default_names(self.options, self.condition_facts())
        return self._names

    def load_testcases(self, dir_id: str, test_dir: Path) -> list[discovery.Testcase]:
        """The testcases of one directory (several for a matrix).

        Every testcase of the run is read here: those ``select`` keeps, and
        the dependencies outside the selection (through ``load_testcase``),
        so that an override applies to all of them.
        """
        return discovery.load_testcases(
            dir_id, test_dir, self.test_driver_map, self.default_driver, self._condition_names
        )

    def load_testcase(self, test_id: str, test_dir: Path) -> discovery.Testcase:
        """One testcase by id (``dir[opt=O0]`` for a matrix variant of ``dir``): a dependency not selected."""
        if type(self).load_testcases is not Selection.load_testcases:
            # The testsuite reads directories its own way: dependencies too.
            return discovery.testcase_by_id(test_id, test_dir, self.load_testcases)
        # Only the variant asked for is made, not the whole matrix.
        return discovery.load_testcase(
            test_id, test_dir, self.test_driver_map, self.default_driver, self._condition_names
        )


def _sub_result_owner(arg: str, dir_ids: set[str]) -> str:
    """``arg``, or the testcase it is a sub-result of (``a/b/check`` of ``a/b``, as the failures list names it).

    Testcases do not nest, so an id below a testcase's can only be one of
    its sub-results (add_sub_result): running it is running its testcase.
    """
    if arg in dir_ids or "/" not in arg or Path(arg).is_dir():
        return arg
    owner = arg
    while "/" in owner:
        owner = owner.rsplit("/", 1)[0]
        split = matrix.split_variant_id(owner)
        if owner in dir_ids or (split is not None and split[0] in dir_ids):
            return owner
    return arg


def _without_working_roots(
    found: list[tuple[str, Path]], tests_dir: Path, temp_dir: str | None
) -> list[tuple[str, Path]]:
    """``found`` less what lies in the working roots (``e3suite-*``) of earlier runs.

    Kept ones (``--cleanup-mode none``/``passed``) hold copies of testcases,
    test.yaml included: with the working directories inside the tests
    directory (``tests_subdir = "."`` and ``--temp-dir .``) every run would
    find the copies of the one before as testcases of their own.
    """
    parent = os.path.abspath(temp_dir or tempfile.gettempdir())
    tests = os.path.abspath(tests_dir)
    if parent != tests and not parent.startswith(tests.rstrip(os.sep) + os.sep):
        return found  # the common case: no working root can be below the tests directory
    prefix = os.path.join(parent, "e3suite-")
    return [(test_id, path) for test_id, path in found if not os.path.abspath(path).startswith(prefix)]
