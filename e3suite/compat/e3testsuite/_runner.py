"""Run an e3-testsuite ``Testsuite`` through e3suite's own ``Testsuite`` pipeline.

``Runner`` is an ``e3suite.Testsuite`` whose steps are filled from the
e3-style testsuite it wraps, so that the run is e3suite's main pipeline
itself (results directory, reporter, engine, executors, reports, exit code)
and follows it as it changes:

- ``set_up`` calls the testsuite's ``set_up`` once the working root and
  the fresh results directory exist (``self.working_dir``,
  ``self.output_dir``), and then its test finders: e3-testsuite's order
  (``discover`` finds nothing itself);
- ``plan`` instantiates the e3 drivers, maps their DAG (``_plan``) and
  builds e3suite's plan from it;
- ``make_executor`` picks worker processes or threads (see
  ``compute_use_multiprocessing``), ``tear_down`` is the testsuite's.

It never runs a fragment itself.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import e3suite.compat.e3testsuite._bridge as _bridge
import e3suite.compat.e3testsuite._plan as _plan
import e3suite.compat.e3testsuite._report as _report
from e3suite.compat.e3testsuite._threads import ThreadExecutor
from e3suite.compat.e3testsuite.testcase_finder import ParsedTest
from e3suite.discovery import Testcase
from e3suite.events import Sink, TestFinished
from e3suite.executors.base import Executor
from e3suite.model import TestStatus
from e3suite.plan import Plan, build_plan
from e3suite.reports.junit import e3_message
from e3suite.reports.terminal import TerminalReporter
from e3suite.testsuite import ConfigurationError
from e3suite.testsuite import Testsuite as E3suiteTestsuite

#: e3-testsuite's -E shows the logs of every result but PASS, XFAIL, XPASS
#: and SKIP: VERIFY's (to verify) and NOT_APPLICABLE's too.
E3_LOGS_OF = frozenset({TestStatus.FAIL, TestStatus.ERROR, TestStatus.VERIFY, TestStatus.NOT_APPLICABLE})


class Runner(E3suiteTestsuite):
    """e3suite's pipeline, for one e3-testsuite testsuite (``suite``)."""

    def __init__(self, suite: Any) -> None:
        super().__init__(suite.root_dir)
        self.suite = suite
        self.tests_subdir = suite.tests_subdir
        self.found: list[ParsedTest] = []
        self.errors: list[tuple[str, str, str]] = []
        self.started = time.time()

    def discover(self) -> list[tuple[str, Path]]:
        self.started = time.time()
        return []  # set_up finds them: e3-testsuite sets up first, and its set_up may change test_dir

    def select(self, candidates: list[tuple[str, Path]]) -> list[Testcase]:
        return []  # the e3 finders select (set_up); plan() makes the testcases

    def set_up(self) -> None:
        """The testsuite's set_up, then its finders, as e3-testsuite does.

        e3-testsuite's set_up finds the working directory made and the
        results directory fresh (testsuites build shared things in
        ``self.working_dir`` and write files in ``self.output_dir``): e3suite
        calls it once both exist, the previous results moved to ``old``.
        """
        assert self.working_root is not None
        self.suite.env.working_dir = self.suite.working_dir = str(self.working_root)
        self.suite.set_up()
        self.found = list(self.suite.get_test_list(list(self.suite.main.args.sublist)))
        self.errors = self.suite._probing_errors
        if not self.found and not self.errors and not os.path.isdir(self.suite.test_dir):
            # e3-testsuite finds nothing there without a word: a misspelt tests_subdir
            # (or a set_up that did not make it) looked like a suite without testcases.
            print(f"e3suite: warning: the tests directory {self.suite.test_dir} does not exist "
                  f"(tests_subdir = {self.suite.tests_subdir!r}): no testcase", file=sys.stderr)

    def tear_down(self) -> None:
        # What e3-testsuite's tear_down can read: every result of the run, by its e3 name.
        e3_names = {test_id: entry.test_name for test_id, entry in _bridge.TESTS.items()}
        _report.fill(self.suite.report_index, self.results, e3_names)
        self.suite.report_index.duration = time.time() - self.started
        self.suite.tear_down()

    def plan(self, cases: list[Testcase], working_root: Path, by_id: dict[str, Path]) -> Plan:
        self.suite.env.working_dir = self.suite.working_dir = str(working_root)
        e3_cases = _plan.build_cases(self.suite, self.found, self.errors, working_root)
        self.suite.use_multiprocessing = self.suite.env.use_multiprocessing = self.suite.compute_use_multiprocessing()
        return build_plan(e3_cases, self.options, working_root, estimates=self.history())

    def clean_working_dirs(self, working_root: Path) -> None:
        # A testcase works in working_root / its e3 name (group__one), not / its id (group/one).
        if self.options.cleanup_mode == "passed":
            for result in self.results:
                entry = _bridge.TESTS.get(result.test_id)
                if entry is not None and result.status is not None and not result.status.is_failure:
                    shutil.rmtree(working_root / entry.test_name, ignore_errors=True)
            if _empty(working_root):
                # No failing testcase made a working directory (a test.yaml that does not parse, an
                # unknown driver): "working directories of failing testcases kept in" an empty one.
                shutil.rmtree(working_root, ignore_errors=True)
                return
        super().clean_working_dirs(working_root)

    def listeners(self, reporter: TerminalReporter) -> list[Sink]:
        listeners = super().listeners(reporter)
        if getattr(self.suite.main.args, "log_file", None):
            listeners.append(_LogFileSink(bool(self.options.show_error_output)))
        return listeners

    def make_reporter(self) -> TerminalReporter:
        reporter = super().make_reporter()
        reporter.logs_of = E3_LOGS_OF
        return reporter

    def write_reports(self, results_dir: Path) -> None:
        super().write_reports(results_dir)
        xunit = self.suite.main.args.xunit_output
        if xunit and self.options.junit and os.path.abspath(xunit) != os.path.abspath(self.options.junit):
            # --junit FILE made e3suite write FILE only: the CI's --xunit-output file was never written.
            from e3suite.reports import command as report_command
            from e3suite.reports.data import load_report

            only_xunit = argparse.Namespace(**{**vars(self.options), "junit": xunit, "html": None, "json": None})
            try:
                report_command.write_report_files(load_report(results_dir, self.compare_dir()), only_xunit)
            except report_command.ReportError as exc:
                raise ConfigurationError(str(exc)) from None
        if self.suite.main.args.generate_text_report:
            try:
                write_text_report(results_dir, self.compare_dir())
            except OSError as exc:
                raise ConfigurationError(f"cannot write the text report: {exc}") from None

    def run_metadata(self) -> dict[str, Any]:
        # The JUnit report names testcases as e3-testsuite's --xunit-output
        # does (reports/junit.py), from the results directory alone.
        return {**super().run_metadata(), "e3_testsuite_name": self.suite.testsuite_name}

    def make_executor(self) -> Executor:
        """Worker processes when fragments may run there; else threads, as e3-testsuite does."""
        if self.options.in_process or (not self.suite.use_multiprocessing and not _single_fragment_tests()):
            return ThreadExecutor(self.options.jobs, float(self.options.kill_grace))
        return super().make_executor()


def _empty(directory: Path) -> bool:
    try:
        with os.scandir(directory) as entries:
            return next(entries, None) is None
    except OSError:
        return False


def _single_fragment_tests() -> bool:
    """True when no testcase has fragments that could share driver state.

    A testcase with one e3 fragment keeps all its state in that fragment's
    run: it may run in a worker process whatever the testsuite claims.
    """
    for planned in _bridge.PLANNED.values():
        if sum(1 for name, _, _ in planned if name != _bridge.RESULTS_FRAGMENT) > 1:
            return False
    return True


def write_text_report(results_dir: Path, compare_dir: Path | None) -> None:
    """``--generate-text-report`` (``auto_generate_text_report``): RESULTS_DIR/report, from the directory alone.

    e3suite's own lines, not e3-testsuite's layout: every result, the logs
    of those to look at (failures, expected failures, VERIFY), the
    comparison with the previous run and the summary.
    """
    from e3suite.reports.data import load_report

    report = load_report(results_dir, compare_dir)
    with open(results_dir / "report", "w", encoding="utf-8") as stream:
        reporter = TerminalReporter(stream=stream, show_error_output=True, no_color=True, show_time=True)
        reporter.logs_of = frozenset({TestStatus.FAIL, TestStatus.ERROR, TestStatus.XFAIL, TestStatus.VERIFY})
        for result in report.results:
            reporter.test_finished(result)
        reporter.summary(report.results, report.comparison, report.complete)


class _LogFileSink(Sink):
    """e3-testsuite's result lines in the ``--log-file`` (``testsuite: INFO PASS name``), not on the terminal.

    e3-testsuite logs every result to its ``testsuite`` logger, so the log
    file of a CI job holds them; the terminal already has e3suite's lines.
    With ``-E``, the line of a result whose logs the terminal shows is
    followed by its diff, or its log without one, as e3-testsuite's is.
    """

    def __init__(self, show_error_output: bool = False) -> None:
        self.show_error_output = show_error_output

    def test_finished(self, event: TestFinished) -> None:
        result = event.result
        name = result.info.get("e3_name") or result.test_id.replace("/", "__")
        status = result.status.value if result.status is not None else "ERROR"
        message = e3_message(result.message, str(name))
        line = f"{status:<8} {'':>6} {name}" + (f": {message}" if message else "")
        shown = (result.diff or result.log).rstrip("\n") if result.status in E3_LOGS_OF else ""
        if self.show_error_output and shown:
            line += "\n" + shown
        record = logging.getLogger("testsuite").makeRecord("testsuite", logging.INFO, __file__, 0, line, (), None)
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.FileHandler) and record.levelno >= handler.level:
                handler.handle(record)

