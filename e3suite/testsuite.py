"""The Testsuite class: what a user's ``testsuite.py`` subclasses.

``main`` reads top to bottom: parse options, discover, select, plan, run,
report, exit code. Each step is a call into the module that owns it; this
class only wires them and turns errors into exit codes:

- 0: nothing failed; ``--failure-exit-code`` (default 1): a FAIL or ERROR;
- 2: a usage or configuration error (a clear message, no traceback);
- 3: an internal error of the engine (with its traceback);
- 130 / 143: interrupted by SIGINT / SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import e3suite.control as control
import e3suite.discovery as discovery
import e3suite.matrix as matrix
import e3suite.script as script
import e3suite.store as store
from e3suite.admission import CapacityError, capacities
from e3suite.config import ConfigError
from e3suite.driver import TestDriver
from e3suite.engine import Engine
from e3suite.events import AttemptFailed, EventBus, RunEnded, RunStarted, Sink, TestFinished
from e3suite.executors import dask_setup
from e3suite.executors.base import Executor
from e3suite.executors.local import MultiprocessScheduler
from e3suite.executors.local import max_slots as max_local_slots
from e3suite.model import TestResult, TestStatus, count_flaky_as
from e3suite.options import build_parser
from e3suite.plan import Plan, build_plan
from e3suite.reports.progress import ProgressListener
from e3suite.reports.status import StatusSink, write_starting
from e3suite.reports.status_keys import status_keys
from e3suite.reports.terminal import TerminalReporter
from e3suite.results_lock import ResultsDirBusy
from e3suite.version import __version__

# Imported where used: a plain run shards nothing, compares with no previous
# run (the first time), writes no report file and runs out of process.
if TYPE_CHECKING:
    import e3suite.shard as shard
    from e3suite.reports.compare import Comparison

EXIT_USAGE = 2
EXIT_INTERNAL = 3


class ConfigurationError(Exception):
    """A problem of the testsuite's set-up, reported without a traceback."""


class _Terminated(KeyboardInterrupt):
    """SIGTERM before the engine's own handler is in place: an interruption, as Ctrl-C is."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


class _TerminalSink(Sink):
    """The terminal lines of a run: one per finished testcase, one per retried attempt."""

    def __init__(self, reporter: TerminalReporter) -> None:
        self.reporter = reporter

    def attempt_failed(self, event: AttemptFailed) -> None:
        self.reporter.attempt_failed(event)

    def test_finished(self, event: TestFinished) -> None:
        if not event.result.carried_over:  # the summary counts those
            self.reporter.test_finished(event.result)


class _ReleaseTexts(Sink):
    """The last sink of a run: a finished testcase's texts go once every other sink has handled it.

    Its record holds them by then (``TestResult.release_outputs``); ``out``
    stays under --rewrite, which compares testcases sharing a baseline after the run.
    """

    def __init__(self, keep_out: bool) -> None:
        self.keep_out = keep_out

    def test_finished(self, event: TestFinished) -> None:
        result = event.result
        result.release_outputs(keep_out=self.keep_out and not result.carried_over)


class Testsuite:
    """Subclass it, map test types to drivers, end with ``sys.exit(MySuite().main())``."""

    __test__ = False

    #: directory of testcases, relative to ``root_dir``
    tests_subdir: str = "tests"
    #: test type name (the ``driver`` key of test.yaml) -> driver class
    test_driver_map: dict[str, type[TestDriver]] = {}
    #: driver used when test.yaml has no ``driver`` key (None: the key is required)
    default_driver: str | None = None
    #: counted resources fragments may hold ("resources:" in test.yaml), e.g. {"gpu": 2, "license": 1};
    #: --resource NAME=COUNT overrides a count or adds a resource
    resources: dict[str, int] = {}

    def __init__(self, root_dir: str | os.PathLike[str] | None = None) -> None:
        if root_dir is None:
            root_dir = script.default_root(type(self))
        self.root_dir = Path(root_dir)
        self.options = argparse.Namespace()
        self.results: list[TestResult] = []
        self.carried: list[TestResult] = []  # --failed: the previous run's results kept
        self.status: StatusSink | None = None
        self._signal: int | None = None
        self._history: dict[str, float] | None = None
        self.progress: ProgressListener | None = None
        self._names: dict[str, Any] | None = None
        self.executor_choice: dask_setup.ExecutorChoice | None = None
        self.sharding: shard.Sharding | None = None  # --shard K/N: this run's part (select)
        self.working_root: Path | None = None  # the run's working directories, once made (before set_up)

    # -- hooks ---------------------------------------------------------------

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        """Add testsuite-specific options to ``parser``."""

    def set_up(self) -> None:
        """Called after options are parsed, before testcases are planned."""

    def tear_down(self) -> None:
        """Called at the end of the run, whatever happened."""

    @property
    def tests_dir(self) -> Path:
        return self.root_dir / self.tests_subdir

    # -- main ------------------------------------------------------------------

    def main(self, argv: list[str] | None = None) -> int:
        """Run the testsuite; return the exit code."""
        parser = build_parser(prog=Path(sys.argv[0]).name or "testsuite.py", description=type(self).__doc__)
        self.add_options(parser)
        try:
            self.options = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version, usage errors
            return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_USAGE
        script.cheap_exit()
        try:
            return self._main()
        except (ConfigurationError, discovery.SelectionError, ConfigError, ResultsDirBusy, CapacityError) as exc:
            print(f"e3suite: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:  # before the run's own handler: see _main
            print("e3suite: interrupted before any testcase ran", file=sys.stderr)
            return 128 + (self._signal or signal.SIGINT)
        except BrokenPipeError:  # `--list | head` (a run itself stops only its output: see TerminalReporter)
            from e3suite.cli import reader_gone

            return reader_gone()
        except Exception as exc:
            traceback.print_exc()
            print(f"e3suite: internal error: {type(exc).__name__}: {exc} (traceback above)", file=sys.stderr)
            return EXIT_INTERNAL

    def _main(self) -> int:
        options = self.options
        count_flaky_as("failed" if getattr(options, "flaky_result", "pass") == "fail" else "passed")
        options.resource_capacities = capacities(self.resources, getattr(options, "resource", None) or [])
        candidates = self.discover()
        cases = self.select(candidates)
        # Once per test.yaml (matrix variants share theirs), before anything runs.
        for warning in dict.fromkeys(w for case in cases for w in case.warnings):
            print(f"e3suite: warning: {warning}", file=sys.stderr)
        if options.list:
            for case in cases:
                print(case.test_id)
            return 0
        self.executor_choice = dask_setup.choose(options, self.root_dir)  # e3suite.yaml, --executor
        if not self.executor_choice.is_dask:
            self.bound_jobs()

        if getattr(options, "compare", None) and not getattr(options, "no_compare", False):
            from e3suite.reports.data import explicit_compare_dir

            try:  # now, not after the run: a comparison asked for is never dropped in silence
                explicit_compare_dir(Path(options.compare))
            except store.StoreError as exc:
                raise ConfigurationError(str(exc)) from None
        # Both directories are checked before the previous results rotate:
        # a bad -o or --temp-dir is a usage error that leaves them as they were.
        try:
            working_root = Path(tempfile.mkdtemp(prefix="e3suite-", dir=options.temp_dir))
        except OSError as exc:
            raise ConfigurationError(f"cannot create working directories in {options.temp_dir} (--temp-dir): "
                                     f"{exc.strerror or exc}") from None
        try:
            results_dir = _rotate_results(Path(options.output_dir))
        except BaseException:
            shutil.rmtree(working_root, ignore_errors=True)
            raise
        # The engine holds absolute paths: a callback's os.chdir (in-process)
        # must not move the results or working directories under it.
        shown_results_dir = results_dir  # as the user named it, for reports
        results_dir, working_root = Path(os.path.abspath(results_dir)), Path(os.path.abspath(working_root))
        self.working_root = working_root
        start_cwd = os.getcwd()
        writer = store.ResultsWriter(results_dir, background=True)
        run_info = self.run_metadata()
        # The run's one event stream: the journal first, then whoever listens.
        bus = EventBus([writer])
        bus.emit(RunStarted(run_info))
        write_starting(writer, run_info)  # set-up and planning may be long: the run reads as starting
        reporter = self.make_reporter()
        in_main = threading.current_thread() is threading.main_thread()
        previous_term = (signal.signal(signal.SIGTERM, _raise_terminated) or signal.SIG_DFL) if in_main else None
        try:
            self.set_up()
            try:
                plan = self.plan(cases, working_root, dict(candidates))
                self.progress = self.make_progress(reporter, plan)
                for sink in self.listeners(reporter):
                    bus.add(sink)
                self.status = StatusSink(
                    results_dir, plan, options.jobs, self.history(), printer=reporter, run_info=run_info
                )
                bus.add(self.status)
                bus.add(_ReleaseTexts(keep_out=bool(getattr(options, "rewrite", False))))
                engine = Engine(plan, self.make_executor(), bus, options)
                # What discovery and planning built lives as long as the
                # run: keep the collector from walking it again and again
                # (3% of W5's wall time), and forked workers from touching
                # its pages.
                gc.freeze()
                self.results = self.run(engine)
                if getattr(options, "failed", False):
                    self.carried = self.carry_over(bus)
            finally:
                with contextlib.suppress(OSError):
                    os.chdir(start_cwd)  # relative options (--compare) read as the user meant them
                gc.unfreeze()
                if self.progress is not None:
                    self.progress.stop()
                self.tear_down()
        except KeyboardInterrupt as exc:
            # Ctrl-C or SIGTERM before the engine's own handler is in place:
            # during set_up (a build), planning, or a Dask executor's imports
            # (a second or more). The run is interrupted, as it would be later.
            if self._signal is None:
                self._signal = signal.SIGTERM if isinstance(exc, _Terminated) else signal.SIGINT
            raise
        finally:
            if previous_term is not None:
                signal.signal(signal.SIGTERM, previous_term)
            self.clean_working_dirs(working_root)
            self.finish_results_dir(writer, run_info, bus)
        comparison = self.compare_with_previous()
        if writer.error is not None:
            # Scheduling stopped at the first write that failed; what was
            # written before it (journal, records) stays readable.
            print(f"e3suite: error: {writer.error}; the run stopped there", file=sys.stderr)
            reporter.summary(self.results, comparison)
            return EXIT_INTERNAL
        reporter.summary(self.results + self.carried, comparison)
        if options.rewrite:
            import e3suite.rewrite as rewrite  # only --rewrite runs need the stock drivers' baselines

            rewrite.print_summary(rewrite.rewritten(self.results), sys.stdout)
            rewrite.print_conflicts(self.results, sys.stderr)
        self.write_reports(shown_results_dir)
        return self.exit_code()

    # -- steps -------------------------------------------------------------------

    def discover(self) -> list[tuple[str, Path]]:
        if not self.tests_dir.is_dir():
            raise ConfigurationError(f"tests directory {self.tests_dir} does not exist")
        return discovery.find_testcase_dirs(self.tests_dir)

    def select(self, candidates: list[tuple[str, Path]]) -> list[discovery.Testcase]:
        """The testcases the positional arguments select (and ``--failed``), test.yaml read."""
        cases = discovery.select_testcases(
            candidates, self.options.tests, self.tests_dir, Path.cwd(), self.load_testcases
        )
        failed = self.previous_failures() if getattr(self.options, "failed", False) else None
        if getattr(self.options, "shard", None) is not None:
            # The whole is split, as the failed run's was (not the failures: docs/sharding.md).
            cases = self.shard_selection(cases, candidates)
        return cases if failed is None else [case for case in cases if case.test_id in failed]

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

    def previous_failures(self) -> set[str]:
        """Ids that ended FAIL, ERROR or FLAKY in the last run of this -o directory (``--failed``)."""
        last = Path(self.options.output_dir) / "new"
        try:
            run = store.load_run(last)
        except (store.StoreError, OSError):
            raise ConfigurationError(
                f"--failed: no previous run in {last} to take the failures of (run without --failed first)"
            ) from None
        rerun = {TestStatus.FAIL.value, TestStatus.ERROR.value, TestStatus.FLAKY.value}
        return {
            str(e.get("test"))
            for e in run.entries
            # ... and those a failed dependency kept from running: they get their chance too.
            if e.get("status") in rerun
            or (e.get("status") == TestStatus.SKIP.value and str(e.get("message") or "").startswith("dependency "))
        }

    def carry_over(self, bus: EventBus) -> list[TestResult]:
        """``--failed``: the previous run's results of the testcases not run again, into this run's directory.

        They reach the journal as finished testcases marked ``carried_over``,
        so the results directory gives the whole picture; the summary and
        the exit code count only what this run ran.
        """
        previous = Path(self.options.output_dir) / "old"
        try:
            run = store.load_run(previous)
        except (store.StoreError, OSError):
            return []
        ran = {r.test_id for r in self.results}
        part = set(self.sharding.part) if self.sharding is not None else None  # a shard carries its part only
        carried = []
        for entry in run.entries:
            if str(entry.get("test")) in ran or (part is not None and str(entry.get("test")) not in part):
                continue
            result = store.load_record(run, entry)
            result.carried_over = True
            carried.append(result)
            bus.emit(TestFinished(result))  # its texts go with it (_ReleaseTexts)
        return carried

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
        if type(self).load_testcases is not Testsuite.load_testcases:
            # The testsuite reads directories its own way: dependencies too.
            return discovery.testcase_by_id(test_id, test_dir, self.load_testcases)
        # Only the variant asked for is made, not the whole matrix.
        return discovery.load_testcase(
            test_id, test_dir, self.test_driver_map, self.default_driver, self._condition_names
        )

    def plan(self, cases: list[discovery.Testcase], working_root: Path, by_id: dict[str, Path]) -> Plan:
        def find_dependency(test_id: str) -> discovery.Testcase | None:
            test_dir = by_id.get(test_id)
            if test_dir is None:
                split = matrix.split_variant_id(test_id)
                test_dir = by_id.get(split[0]) if split is not None else None
            return self.load_testcase(test_id, test_dir) if test_dir is not None else None

        return build_plan(cases, self.options, working_root, find_dependency, self.history())

    def history(self) -> dict[str, float]:
        """The previous run's durations (DIR/old), read once: priorities and estimates."""
        if self._history is None:
            self._history = store.previous_durations(Path(self.options.output_dir) / "old")
        return self._history

    def listeners(self, reporter: TerminalReporter) -> list[Sink]:
        """The sinks of the run's events besides the journal (terminal lines, progress)."""
        listeners: list[Sink] = [_TerminalSink(reporter)]
        if self.progress is not None:
            listeners.append(self.progress)
        return listeners

    def make_reporter(self) -> TerminalReporter:
        """The terminal reporter; on stderr when a report document goes to stdout."""
        to_stdout = False
        if any(getattr(self.options, name, None) for name in ("junit", "html", "json")):
            from e3suite.reports import command as report_command

            try:
                to_stdout = report_command.check_stdout_use(self.options)
            except report_command.ReportError as exc:
                raise ConfigurationError(str(exc)) from None
        return TerminalReporter.from_options(self.options, sys.stderr if to_stdout else None)

    def make_progress(self, reporter: TerminalReporter, plan: Plan) -> ProgressListener | None:
        """The live progress listener (--progress), or None."""
        mode = getattr(self.options, "progress", "none")
        if mode == "none":
            return None
        return ProgressListener(reporter, mode, plan.tests, self.options.jobs, self.history())

    def compare_dir(self) -> Path | None:
        """The previous run to compare with: --compare, else DIR/old; None with --no-compare."""
        if getattr(self.options, "no_compare", False):
            return None
        explicit = getattr(self.options, "compare", None)
        if explicit:
            from e3suite.reports.data import resolve_results_dir

            return resolve_results_dir(Path(explicit))
        old_dir = Path(self.options.output_dir) / "old"
        return old_dir if old_dir.is_dir() else None

    def compare_with_previous(self) -> Comparison | None:
        old_dir = self.compare_dir()
        if old_dir is None:
            return None
        from e3suite.reports.data import compare_with_dir

        return compare_with_dir(
            self.results,
            old_dir,
            getattr(self.options, "slowdown_threshold", 2.0),
            partial=bool(self.options.tests or getattr(self.options, "failed", False) or self.sharding),
        )

    def bound_jobs(self) -> None:
        """Clamp -j to what this machine can host (workers start lazily, but up to -j of them)."""
        limit, why = max_local_slots()
        if self.options.jobs > limit:
            print(
                f"e3suite: warning: -j {self.options.jobs} is more than this machine can host ({why}): "
                f"running with -j {limit}",
                file=sys.stderr,
            )
            self.options.jobs = limit

    def make_executor(self) -> Executor:
        if self.executor_choice is not None and self.executor_choice.is_dask:
            return dask_setup.make_dask_executor(self.executor_choice, self.options, self)
        if self.options.in_process:
            from e3suite.executors.inprocess import InProcessExecutor

            return InProcessExecutor(self.options.jobs)
        # Nothing is queued ahead in the workers with -j1 (fragments then run
        # strictly in priority order, as the engine releases them) nor with
        # a failure limit (a queued fragment may start before the engine
        # sees the limit reached).
        limited = getattr(self.options, "max_failures", None) or getattr(self.options, "max_consecutive_failures", None)
        queue_ahead = self.options.jobs > 1 and not limited
        return MultiprocessScheduler(
            self.options.jobs, kill_grace=getattr(self.options, "kill_grace", 2.0), queue_ahead=queue_ahead
        )

    def worker_facts(self) -> dict[str, Any]:
        """Facts a Dask worker adds to its own (e.g. a compiler's version), probed on the worker.

        Called on each worker when it joins, on an instance made with
        ``type(self)(root_dir)``; testcases match them with ``requires:``.
        """
        return {}

    def run(self, engine: Engine) -> list[TestResult]:
        executor = engine.executor

        def on_signal(signum: int, frame: FrameType | None) -> None:
            if self._signal is not None and signum == signal.SIGINT:
                executor.hurry()  # second Ctrl-C: no more grace for running processes
                return
            self._signal = signum
            engine.request_interrupt()

        # The wake-up fd makes the executor's wait return as soon as a signal
        # arrives, instead of at the end of its housekeeping period.
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        status = self.status
        if status is not None:
            # kill -USR1 PID: the run's status printed here, the run goes on.
            previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, lambda signum, frame: status.request_print())
        keys = status_keys(status.request_print) if status is not None else None
        previous_fd = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        executor.set_wakeup_fd(wake_read)
        try:
            return engine.run()
        finally:
            if keys is not None:
                keys.stop()
            signal.set_wakeup_fd(previous_fd)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            executor.set_wakeup_fd(None)
            os.close(wake_read)
            os.close(wake_write)

    def run_metadata(self) -> dict[str, Any]:
        return {
            "start": time.time(),
            "version": __version__,
            "argv": sys.argv,
            "cwd": os.getcwd(),
            "host": socket.gethostname(),
            "python": sys.version.split()[0],
            "jobs": self.options.jobs,
            "tests_dir": str(self.tests_dir),
            # A run of selected testcases does not "remove" the others (reports/compare.py).
            "selection": (list(self.options.tests) or (["--failed"] if getattr(self.options, "failed", False) else []))
            + ([f"--shard={self.sharding.spec}"] if self.sharding is not None else []),
            # --shard K/N: a part of the whole; the ids of both (docs/sharding.md).
            **(self.sharding.metadata() if self.sharding is not None else {}),
            "flaky_result": getattr(self.options, "flaky_result", "pass"),
        }

    def finish_results_dir(
        self, writer: store.ResultsWriter, run_info: dict[str, Any], bus: EventBus | None = None
    ) -> None:
        run_info["end"] = time.time()
        run_info["duration"] = round(run_info["end"] - run_info["start"], 6)
        run_info["interrupted"] = self._signal is not None
        (bus or EventBus([writer])).emit(RunEnded(run_info["end"], run_info["duration"], run_info["interrupted"]))
        writer.write_index(run_info)
        writer.close()

    def write_reports(self, results_dir: Path) -> None:
        """Report files asked on the command line (JUnit, HTML, JSON).

        They are rendered from the results directory just written, exactly as
        ``e3suite report`` would (promise 5 of docs/index.md), not from memory.
        """
        options = self.options
        if not any(getattr(options, name, None) for name in ("junit", "html", "json")):
            return
        from e3suite.reports import command as report_command
        from e3suite.reports.data import load_report

        report = load_report(results_dir, self.compare_dir(), getattr(options, "slowdown_threshold", 2.0))
        try:
            report_command.write_report_files(report, options)
        except report_command.ReportError as exc:
            raise ConfigurationError(str(exc)) from None

    def clean_working_dirs(self, working_root: Path) -> None:
        mode = self.options.cleanup_mode
        if mode == "all":
            shutil.rmtree(working_root, ignore_errors=True)
        elif mode == "passed":
            if not any(result.status is None or result.status.is_failure for result in self.results):
                shutil.rmtree(working_root, ignore_errors=True)  # nothing failed: nothing to keep or tell
                return
            for result in self.results:
                if result.status is not None and not result.status.is_failure:
                    shutil.rmtree(working_root / result.test_id, ignore_errors=True)
            print(f"e3suite: working directories of failing testcases kept in {working_root}", file=sys.stderr)
        else:
            print(f"e3suite: working directories kept in {working_root}", file=sys.stderr)

    def exit_code(self) -> int:
        if self._signal is not None:
            return 128 + self._signal
        if any(r.status is not None and r.status.is_failure for r in self.results):
            return int(self.options.failure_exit_code)
        return 0


def _rotate_results(output_dir: Path) -> Path:
    """``store.rotate``, once ``output_dir`` is known to be a directory we can write in."""
    try:
        if output_dir.exists() and not output_dir.is_dir():
            raise ConfigurationError(f"cannot write results in {output_dir} (-o): it is not a directory")
        output_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=output_dir):
            pass
        return store.rotate(output_dir)
    except OSError as exc:
        raise ConfigurationError(f"cannot write results in {output_dir} (-o): {exc.strerror or exc}") from None
