"""e3-testsuite 27.x's ``Testsuite``, running on e3suite's engine.

A testsuite written for e3-testsuite subclasses this ``Testsuite`` (or
imports ``e3.testsuite`` under ``e3suite e3``, which serves it from here)
and keeps its attributes and hooks: ``tests_subdir``, ``test_driver_map``,
``default_driver``, ``test_finders``, ``test_name()``, ``add_options()``,
``set_up()``, ``tear_down()``, ``adjust_dag_dependencies()``, ``env``,
``main.args`` and ``testsuite_main()``. The pipeline reads as
e3-testsuite's does (options, set_up, find tests, build the DAG, run,
report, tear_down) but every step is e3suite's: its plan, executors,
process hygiene, journal and reports. This class only wires the steps; it
must never run a fragment itself.
"""

from __future__ import annotations

import gc
import inspect
import json
import logging
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from e3suite.compat.e3testsuite import _options, _plan
from e3suite.compat.e3testsuite._bridge import TestAbort
from e3suite.compat.e3testsuite._threads import ThreadExecutor
from e3suite.compat.e3testsuite.testcase_finder import ParsedTest, TestFinder, YAMLTestFinder
from e3suite.compat.e3testsuite.unsupported import Unsupported
from e3suite.compat.e3testsuite.utils import CleanupMode, ColorConfig
from e3suite.engine import Engine
from e3suite.executors.base import Executor
from e3suite.plan import build_plan
from e3suite.testsuite import EXIT_INTERNAL, EXIT_USAGE, ConfigurationError
from e3suite.testsuite import Testsuite as E3suiteTestsuite

__all__ = ["CleanupMode", "ParsedTest", "TestAbort", "Testsuite", "TestsuiteCore", "logger"]

logger = logging.getLogger("testsuite")

_CLEANUP = {"none": CleanupMode.NONE, "passed": CleanupMode.PASSING, "all": CleanupMode.ALL}


class Testsuite(E3suiteTestsuite):
    """Subclass it as in e3-testsuite; end with ``sys.exit(MySuite().testsuite_main())``."""

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
        super().__init__(os.path.abspath(root_dir))
        self.root_dir_str = os.path.abspath(root_dir)
        self.test_dir = os.path.join(self.root_dir_str, self.tests_subdir)
        self.testsuite_name = testsuite_name
        self.return_values: dict[str, Any] = {}
        self.colors = ColorConfig(False)
        self.Fore, self.Style = self.colors.Fore, self.colors.Style
        self.env: Any = None
        self.use_multiprocessing = False
        self._e3_main_object: Any = None

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

    def adjust_dag_dependencies(self, dag: Any) -> None:
        """Change the DAG of fragments after every driver's ``add_test``."""

    def write_comment_file(self, comment_file: Any) -> None:
        comment_file.write("Testsuite options:\n  " + " ".join(sys.argv) + "\n")

    def compute_use_multiprocessing(self) -> bool:
        """Whether fragments may run in worker processes (else: threads of the engine)."""
        args = self._e3_main_object.args
        return bool(args.force_multiprocessing or self.multiprocessing_supported)

    # -- main ----------------------------------------------------------------------

    def testsuite_main(self, args: list[str] | None = None) -> int:
        """Run the testsuite with e3-testsuite's command line; return the exit code."""
        from e3.main import Main

        e3_main = Main(platform_args=True)
        parser = e3_main.argument_parser
        parser.conflict_handler = "resolve"  # a testsuite's own option wins over ours
        _options.add_e3_options(parser, self)
        self.add_options(parser)
        try:
            e3_main.parse_args(args)
            assert e3_main.args is not None
            self._e3_main_object = e3_main
            self.options = _options.e3suite_options(e3_main.args)
            return self._e3_main()
        except SystemExit as exc:
            return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_USAGE
        except (Unsupported, ConfigurationError) as exc:
            print(f"e3suite: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except Exception as exc:
            traceback.print_exc()
            print(f"e3suite: internal error: {type(exc).__name__}: {exc} (traceback above)", file=sys.stderr)
            return EXIT_INTERNAL

    @property
    def main(self) -> Any:
        """e3-testsuite's ``Main`` (``.args``, ``.argument_parser``) once options are parsed.

        Before that, the method that runs the testsuite (``Testsuite().main()``
        works as for an e3suite testsuite).
        """
        return self._e3_main_object if self._e3_main_object is not None else self.testsuite_main

    def _e3_main(self) -> int:
        from e3.env import Env

        import e3suite.store as store

        args, options = self._e3_main_object.args, self.options
        assert args is not None
        self.env = env = Env()
        env.enable_colors = False
        env.root_dir, env.test_dir = self.root_dir_str, self.test_dir
        env.options = args
        env.cleanup_mode = _CLEANUP[options.cleanup_mode]
        results_dir = store.rotate(Path(options.output_dir))
        env.output_dir = str(results_dir)
        working_root = self._working_root()
        env.working_dir = str(working_root)
        writer = store.ResultsWriter(results_dir)
        run_info = self.run_metadata()
        writer.journal.write("run_started", **run_info)
        reporter = self.make_reporter()
        try:
            self.set_up()
            try:
                tests, errors = _plan.find_tests(self, list(args.sublist))
                if args.list_json:
                    self._write_list(args.list_json, tests)
                    return 0
                cases = _plan.build_cases(self, tests, errors, working_root)
                self.use_multiprocessing = env.use_multiprocessing = self.compute_use_multiprocessing()
                plan = build_plan(cases, options, working_root, estimates=self.history())
                self.progress = self.make_progress(reporter, plan)
                engine = Engine(plan, self.make_executor(), writer, options, self.listeners(reporter))
                gc.freeze()  # as e3suite's own main: what planning built lives as long as the run
                self.results = self.run(engine)
            finally:
                gc.unfreeze()
                if self.progress is not None:
                    self.progress.stop()
                self.tear_down()
        finally:
            self.clean_working_dirs(working_root)
            self.finish_results_dir(writer, run_info)
        reporter.summary(self.results, self.compare_with_previous())
        self.write_reports(results_dir)
        return self.exit_code()

    def _working_root(self) -> Path:
        options = self.options
        temp_dir = os.path.abspath(options.temp_dir or tempfile.gettempdir())
        if options.fixed_temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)
            os.makedirs(temp_dir)
            return Path(temp_dir)
        return Path(tempfile.mkdtemp(prefix="e3suite-", dir=temp_dir))

    def _write_list(self, filename: str, tests: list[ParsedTest]) -> None:
        entries = [{"test_name": t.test_name, "test_dir": t.test_dir, "test_matcher": t.test_matcher} for t in tests]
        with open(filename, "w") as f:
            json.dump(entries, f)

    def make_executor(self) -> Executor:
        """Worker processes when fragments may run there; else threads, as e3-testsuite does."""
        if self.options.in_process or (not self.use_multiprocessing and not _single_fragment_tests()):
            return ThreadExecutor(self.options.jobs, float(self.options.kill_grace))
        return super().make_executor()

    def clean_working_dirs(self, working_root: Path) -> None:
        if self.options.fixed_temp_dir and self.options.cleanup_mode == "none":
            return
        super().clean_working_dirs(working_root)


def _single_fragment_tests() -> bool:
    """True when no testcase has fragments that could share driver state.

    A testcase with one e3 fragment keeps all its state in that fragment's
    run: it may run in a worker process whatever the testsuite claims.
    """
    from e3suite.compat.e3testsuite import _bridge

    for planned in _bridge.PLANNED.values():
        if sum(1 for name, _, _ in planned if name != _bridge.RESULTS_FRAGMENT) > 1:
            return False
    return True


#: e3-testsuite's base class of Testsuite (same object here)
TestsuiteCore = Testsuite
