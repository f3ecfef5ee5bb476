"""e3-testsuite 27.x's ``Testsuite``, running on e3suite's engine.

A testsuite written for e3-testsuite subclasses this ``Testsuite`` (or
imports ``e3.testsuite`` under ``e3suite e3``, which serves it from here)
and keeps its attributes and hooks: ``tests_subdir``, ``test_driver_map``,
``default_driver``, ``test_finders``, ``test_name()``, ``add_options()``,
``set_up()``, ``tear_down()``, ``adjust_dag_dependencies()``, ``env``,
``main.args`` and ``testsuite_main()``. ``testsuite_main`` parses
e3-testsuite's command line and hands the run to e3suite's own
``Testsuite`` pipeline (``_runner.Runner``), whose steps call this class's
hooks in e3-testsuite's order (set_up, find tests, build the DAG, run,
tear_down): the plan, executors, process hygiene, journal and reports are
e3suite's. This class must never run a fragment itself.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import shutil
import sys
import tempfile
import traceback
from typing import Any

import e3suite.compat.e3testsuite._options as _options
import e3suite.compat.e3testsuite._plan as _plan
import e3suite.compat.e3testsuite._report as _report
from e3suite.compat.e3testsuite._bridge import TestAbort
from e3suite.compat.e3testsuite.testcase_finder import ParsedTest, TestFinder, YAMLTestFinder
from e3suite.compat.e3testsuite.unsupported import Unsupported
from e3suite.compat.e3testsuite.utils import CleanupMode, ColorConfig
from e3suite.interruption import RunInterrupted
from e3suite.testsuite import EXIT_INTERNAL, EXIT_USAGE, ConfigurationError

__all__ = ["CleanupMode", "ParsedTest", "TestAbort", "Testsuite", "TestsuiteCore", "logger"]

logger = logging.getLogger("testsuite")

_CLEANUP = {"none": CleanupMode.NONE, "passed": CleanupMode.PASSING, "all": CleanupMode.ALL}


class Testsuite:
    """Subclass it as in e3-testsuite; end with ``sys.exit(MySuite().testsuite_main())``."""

    __test__ = False

    tests_subdir: str = "."
    test_driver_map: dict[str, Any] = {}
    default_driver: str | None = None
    default_max_consecutive_failures: int = 0
    default_failure_exit_code: int = 1
    auto_generate_text_report: bool = False
    multiprocessing_supported: bool = False

    def __init__(self, root_dir: str | None = None, testsuite_name: str = "Untitled testsuite") -> None:
        if root_dir is None:
            root_dir = os.path.dirname(inspect.getfile(type(self)))
        self.root_dir = os.path.abspath(root_dir)
        self.test_dir = os.path.join(self.root_dir, self.tests_subdir)
        self.testsuite_name = testsuite_name
        self.return_values: dict[str, Any] = {}
        self.colors = ColorConfig(False)
        self.Fore, self.Style = self.colors.Fore, self.colors.Style
        self.env: Any = None
        self.use_multiprocessing = False
        self.runner: Any = None  # the e3suite Testsuite that runs this one (_runner.Runner)
        self.working_dir: str | None = None  # e3suite's working root, once made
        self.output_dir: str | None = None
        self.old_output_dir: str | None = None
        self.report_index = _report.ReportIndex("")  # filled before tear_down (see _runner)
        self._e3_main_object: Any = None
        self._probing_errors: list[tuple[str, str, str]] = []  # (name, directory, error) of get_test_list

    # -- hooks of e3-testsuite -------------------------------------------------

    def test_name(self, test_dir: str) -> str:
        """The name of the testcase in ``test_dir``: its path, ``/`` spelled ``__``."""
        result = os.path.relpath(test_dir, self.test_dir)
        while result.startswith(os.pardir + os.sep):
            result = result[len(os.pardir + os.sep):]
        return result.replace("\\", "/").rstrip("/").replace("/", "__")

    @property
    def test_finders(self) -> list[TestFinder]:
        return [YAMLTestFinder()]

    def add_options(self, parser: Any) -> None:
        """Add testsuite-specific options to ``parser``."""

    def set_up(self) -> None:
        """Called once options are parsed, before testcases are searched."""

    def tear_down(self) -> None:
        """Called at the end of the run."""

    def adjust_dag_dependencies(self, dag: Any) -> None:
        """Change the DAG of fragments after every driver's ``add_test``."""

    def get_test_list(self, sublist: list[str]) -> list[ParsedTest]:
        """The testcases to run: the test finders' in the tests directory, or in ``sublist``'s directories/patterns.

        Testsuites override it to filter or add testcases (calling this one);
        directories the finders could not probe become ERROR results.
        """
        temp_dir = self.runner.options.temp_dir if self.runner is not None else None
        tests, self._probing_errors = _plan.find_tests(self, list(sublist), temp_dir)
        return tests

    def write_comment_file(self, comment_file: Any) -> None:
        comment_file.write("Testsuite options:\n  " + " ".join(sys.argv) + "\n")

    def compute_use_multiprocessing(self) -> bool:
        """Whether fragments may run in worker processes (else: threads of the engine)."""
        args = self._e3_main_object.args
        return bool(args.force_multiprocessing or self.multiprocessing_supported)

    # e3-testsuite's deprecated views of the report index, still read by testsuites

    @property
    def test_counter(self) -> int:
        return len(self.report_index.entries)

    @property
    def test_status_counters(self) -> dict[Any, int]:
        return self.report_index.status_counters

    @property
    def results(self) -> dict[str, Any]:
        return {e.test_name: e.status for e in self.report_index.entries.values()}

    # -- main ----------------------------------------------------------------------

    @property
    def main(self) -> Any:
        """e3-testsuite's ``Main`` (``.args``, ``.argument_parser``) once options are parsed.

        Before that, the method that runs the testsuite (``Testsuite().main()``
        works as for an e3suite testsuite).
        """
        return self._e3_main_object if self._e3_main_object is not None else self.testsuite_main

    def testsuite_main(self, args: list[str] | None = None) -> int:
        """Run the testsuite with e3-testsuite's command line; return the exit code."""
        from e3.main import Main

        from e3suite.compat.e3testsuite._runner import Runner

        e3_main = Main(platform_args=True)
        parser = e3_main.argument_parser
        _options.add_e3_options(parser, self)  # a testsuite's own option (add_options) wins over ours
        self.add_options(parser)
        try:
            e3_main.parse_args(args)
            assert e3_main.args is not None
            self._e3_main_object = e3_main
            self.runner = Runner(self)
            self.runner.options = options = _options.e3suite_options(e3_main.args)
            self.env = _environment(self, e3_main.args, options)
            self.output_dir = self.env.output_dir
            self.old_output_dir = os.path.abspath(options.compare or os.path.join(options.output_dir, "old"))
            self.report_index = _report.ReportIndex(self.output_dir)
            if options.temp_dir:
                os.makedirs(options.temp_dir, exist_ok=True)  # --dev-temp's directory may be new
            if e3_main.args.dev_temp:
                _remove_previous_working_roots(options.temp_dir)
            if e3_main.args.list_json:
                self._write_list(e3_main.args.list_json)
                return 0
            # e3suite's own pipeline (see _runner), under its guard: a Ctrl-C in set_up or
            # planning gives every testcase SKIP "not run: interrupted", as a run of e3suite does.
            with self.runner._guard:
                return int(self.runner._main())
        except RunInterrupted as exc:
            print(f"e3suite: interrupted ({exc})", file=sys.stderr)
            return 128 + (self.runner._signal or exc.signum)
        except SystemExit as exc:
            # argparse's (--help, a usage error) has printed its message; a testsuite's own
            # sys.exit("message") (in set_up, say) gets what Python does with it: printed, status 1.
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
                return 1
            return int(exc.code or 0)
        except (Unsupported, ConfigurationError) as exc:
            print(f"e3suite: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except Exception as exc:
            traceback.print_exc()
            print(f"e3suite: internal error: {type(exc).__name__}: {exc} (traceback above)", file=sys.stderr)
            return EXIT_INTERNAL

    def _write_list(self, filename: str) -> None:
        # set_up sees a working directory and an empty results directory, as in a run (and in
        # e3-testsuite's --list-json); a listing writes no results: that one is thrown away with the other.
        temp_dir = self.runner.options.temp_dir
        working_root = tempfile.mkdtemp(prefix=_plan.WORKING_ROOT_PREFIX, dir=temp_dir)
        self.env.working_dir = self.working_dir = working_root
        self.env.output_dir = self.output_dir = os.path.join(working_root, "listing-output")
        os.mkdir(self.output_dir)
        try:
            self.set_up()
            tests = self.get_test_list(list(self._e3_main_object.args.sublist))
        finally:
            shutil.rmtree(working_root, ignore_errors=True)
        entries = [{"test_name": t.test_name, "test_dir": t.test_dir, "test_matcher": t.test_matcher} for t in tests]
        with open(filename, "w") as f:
            json.dump(entries, f)
        # What a run would report as ERROR is not in the list: say so, as e3-testsuite logs it (exit 0 too).
        for name, _, error in self._probing_errors:
            print(f"e3suite: warning: {name} is not listed: {error}", file=sys.stderr)


def _remove_previous_working_roots(temp_dir: str) -> None:
    """``--dev-temp DIR``: the working directories previous runs kept in DIR go, as e3-testsuite empties DIR.

    Each run keeps its working directories there (``--cleanup-mode none``)
    in a fresh ``e3suite-*`` directory: without this, every run added a copy
    of every testcase's working directory, for ever. Nothing else in DIR is
    touched.
    """
    with os.scandir(temp_dir) as entries:
        previous = [e.path for e in entries if e.name.startswith(_plan.WORKING_ROOT_PREFIX) and e.is_dir()]
    for path in previous:
        shutil.rmtree(path, ignore_errors=True)


def _environment(suite: Testsuite, args: Any, options: Any) -> Any:
    """e3-testsuite's ``env``: e3-core's Env, with the run's directories and options."""
    from e3.env import Env

    env = Env()
    env.enable_colors = False
    env.root_dir, env.test_dir = suite.root_dir, suite.test_dir
    env.options = args
    env.cleanup_mode = _CLEANUP[options.cleanup_mode]
    env.output_dir = os.path.join(os.path.abspath(options.output_dir), "new")
    env.working_dir = None  # set once e3suite made the working root (Runner.plan)
    return env


#: e3-testsuite's base class of Testsuite (same object here)
TestsuiteCore = Testsuite
