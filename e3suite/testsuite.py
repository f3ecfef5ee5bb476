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
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import e3suite.discovery as discovery
import e3suite.guardian as guardian
import e3suite.matrix as matrix
import e3suite.rerun as rerun
import e3suite.script as script
import e3suite.store as store
import e3suite.working_roots as working_roots
from e3suite.admission import CapacityError, capacities
from e3suite.config import ConfigError
from e3suite.driver import TestDriver
from e3suite.engine import NOT_RUN_INTERRUPTED, Engine
from e3suite.events import EventBus, RunEnded, RunStarted, Sink, TestDiscovered, TestFinished
from e3suite.executors import dask_setup
from e3suite.executors.base import Executor
from e3suite.executors.local import MultiprocessScheduler
from e3suite.executors.local import max_slots as max_local_slots
from e3suite.interruption import InterruptGuard, RunInterrupted, engine_signals
from e3suite.model import TestResult, TestStatus, count_flaky_as
from e3suite.options import build_parser, shuffle_seed
from e3suite.output_dir import OutputDirError, rotate_output_dir
from e3suite.plan import Plan, build_plan, set_shuffled_priorities
from e3suite.reports.progress import ProgressListener
from e3suite.reports.status import StatusSink, write_starting
from e3suite.reports.status_keys import status_keys
from e3suite.reports.terminal import TerminalReporter, TerminalSink, shuffle_line
from e3suite.results_lock import ResultsDirBusy
from e3suite.selection import ConfigurationError as ConfigurationError  # re-exported: hooks raise it
from e3suite.selection import Selection
from e3suite.version import __version__

# Imported where used: a plain run shards nothing, compares with no previous
# run (the first time), writes no report file and runs out of process.
if TYPE_CHECKING:
    import e3suite.shard as shard
    from e3suite.reports.compare import Comparison

EXIT_USAGE = 2
EXIT_INTERNAL = 3


class _SetUpFailed(Exception):
    """The testsuite's set_up raised: the run records why and stops before planning."""


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


def _kill_workers() -> None:
    """After an internal error: workers the engine could not stop, killed (the guardian ends their commands).

    Else the interpreter's exit waits for them (multiprocessing joins its
    children), and they wait for a fragment that never comes: the run
    printed its error and never ended.
    """
    import multiprocessing

    for child in multiprocessing.active_children():
        with contextlib.suppress(OSError, ValueError):
            child.kill()
            child.join(5)


class Testsuite(Selection):
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
        self.discovered_ids: set[str] | None = None  # the testcase directories discovered (main)
        self._collector = script.PlanningCollector()
        self.status: StatusSink | None = None
        self._signal: int | None = None
        self._guard = InterruptGuard(self._note_signal, lambda: self._signal is not None)
        self._history: dict[str, float] | None = None
        #: --max-time stopped the run
        self.time_limit_reached = False
        self._writer: store.ResultsWriter | None = None  # the run's results directory, once made
        #: --shuffle: the seed of this run's order (None: the order of the previous run's durations)
        self.shuffle_seed: int | None = None
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
        try:
            self.add_options(parser)
        except argparse.ArgumentError as exc:
            # An option e3suite has already (--timeout, -j): the testsuite's mistake, said in one line.
            print(f"e3suite: error: the testsuite's add_options: {exc} (e3suite's own options: --help)",
                  file=sys.stderr)
            return EXIT_USAGE
        try:
            self.options = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version, usage errors
            return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_USAGE
        script.cheap_exit()
        self._collector.pause()  # until the plan is frozen (see _main)
        try:
            with self._guard:
                return self._main()
        except RunInterrupted as exc:  # before the results directory turned, or after it was written
            print(f"e3suite: interrupted ({exc})", file=sys.stderr)
            return 128 + (self._signal or exc.signum)
        except (ConfigurationError, discovery.SelectionError, ConfigError, ResultsDirBusy, CapacityError,
                OutputDirError) as exc:
            print(f"e3suite: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:  # Ctrl-C while looking for testcases: nothing was written yet
            print("e3suite: interrupted", file=sys.stderr)
            return 128 + (self._signal or signal.SIGINT)
        except BrokenPipeError:  # `--list | head` (a run itself stops only its output: see TerminalReporter)
            from e3suite.cli import reader_gone

            return reader_gone()
        except Exception as exc:
            traceback.print_exc()
            print(f"e3suite: internal error: {type(exc).__name__}: {exc} (traceback above)", file=sys.stderr)
            _kill_workers()
            return EXIT_INTERNAL
        finally:
            self._collector.resume()

    def _main(self) -> int:
        # Forked now, while the engine is small: see e3suite.guardian.
        # It also removes what runs killed before their end left in the
        # temporary directory (SIGKILL, OOM), off the engine's start-up.
        with guardian.guarding(getattr(self.options, "temp_dir", None)):
            return self._run_main()

    def _run_main(self) -> int:
        options = self.options
        count_flaky_as("failed" if getattr(options, "flaky_result", "pass") == "fail" else "passed")
        options.resource_capacities = capacities(self.resources, getattr(options, "resource", None) or [])
        self.check_driver_map()
        candidates = self.discover()
        # --failed carries over only these (None: testcases found later, as e3-testsuite's finders do).
        self.discovered_ids = {test_id for test_id, _ in candidates} or None
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
                resolved = explicit_compare_dir(Path(options.compare))
            except store.StoreError as exc:
                raise ConfigurationError(str(exc)) from None
            # `--compare out` (or out/new) with -o out names the previous run, which the
            # rotation is about to move to out/old: compare with it there, not with this run.
            if os.path.abspath(resolved) == os.path.abspath(Path(options.output_dir) / "new"):
                options.compare = str(Path(options.output_dir) / "old")
        if any(getattr(options, name, None) for name in ("junit", "html", "json")):
            from e3suite.reports import command as report_command

            try:  # now, not once the run is over and its report has nowhere to go
                output_dir = Path(options.output_dir)
                new, old = output_dir / "new", output_dir / "old"
                report_command.check_targets(options, made=(output_dir, new), results=(new, old))
            except report_command.ReportError as exc:
                raise ConfigurationError(str(exc)) from None
        # Both directories are checked before the previous results rotate:
        # a bad -o or --temp-dir is a usage error that leaves them as they were.
        try:
            working_root = Path(tempfile.mkdtemp(prefix=working_roots.PREFIX, dir=options.temp_dir))
        except OSError as exc:
            raise ConfigurationError(f"cannot create working directories in {options.temp_dir} (--temp-dir): "
                                     f"{exc.strerror or exc}") from None
        working_roots.claim(working_root, options.cleanup_mode)
        reporter = self.make_reporter()
        self.shuffle_seed = shuffle_seed(options)
        if self.shuffle_seed is not None:
            # First, and whatever -q says: a failure that depends on the order needs it to be found again.
            reporter.write(shuffle_line(self.shuffle_seed))
        # A signal from the rotation to the first journal line would leave an
        # empty DIR/new, which the next run would rotate over the last real one.
        with self._guard.deferred():
            try:
                results_dir = rotate_output_dir(Path(options.output_dir))
            except BaseException:
                shutil.rmtree(working_root, ignore_errors=True)
                raise
            # DIR/old is the previous run now: a history read before (the
            # --shard split's probe plan, the run before last then) is stale.
            self._history = None
            # The engine holds absolute paths: a callback's os.chdir (in-process)
            # must not move the results or working directories under it.
            shown_results_dir = results_dir  # as the user named it, for reports
            results_dir, working_root = Path(os.path.abspath(results_dir)), Path(os.path.abspath(working_root))
            self.working_root = working_root
            start_cwd = os.getcwd()
            writer = self._writer = store.ResultsWriter(results_dir, background=True)
            run_info = self.run_metadata()
            # The run's one event stream: the journal first, then whoever listens.
            bus = EventBus([writer])
            bus.emit(RunStarted(run_info))
            write_starting(writer, run_info)  # set-up and planning may be long: the run reads as starting
        to_run = [case.test_id for case in cases]
        engine: Engine | None = None
        set_up_error, set_up_exit, tear_down_error = None, 0, None
        try:
            try:
                try:
                    with self._collector.on():  # the testsuite's own code: collected as usual
                        self.set_up()
                except Exception as exc:
                    # The testsuite's own code, not e3suite's: its traceback (none
                    # for a ConfigurationError, a usage error), then a verdict for
                    # every testcase (promise 1), so that the results directory
                    # says why nothing ran rather than "no testcase".
                    if isinstance(exc, ConfigurationError):
                        set_up_error, set_up_exit = str(exc), EXIT_USAGE
                    else:
                        traceback.print_exc()
                        set_up_error = f"the testsuite's set_up raised {type(exc).__name__}: {exc} (traceback above)"
                        set_up_exit = EXIT_INTERNAL
                    message = f"not run: {set_up_error.removesuffix(' (traceback above)')}"
                    self.results = self.not_run(cases, bus, message)
                    raise _SetUpFailed from None
                plan = self.plan(cases, working_root, dict(candidates))
                to_run = list(plan.tests)  # with the dependencies outside the selection
                if getattr(options, "failed", False):  # before anything runs: a killed run still holds them
                    with self._guard.deferred():  # a signal would cut an event in half (an index entry, no record)
                        self.carry_over(bus, writer, plan.tests)
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
                # its pages. The collector, off since main() began, is on
                # again for what the run makes (script.PlanningCollector).
                gc.freeze()
                self._collector.resume()
                self.results = self.run(engine)
                guardian.run_over()  # the executor has ended every process of the run
            finally:
                with contextlib.suppress(OSError):
                    os.chdir(start_cwd)  # relative options (--compare) read as the user meant them
                gc.unfreeze()
                if self.progress is not None:
                    self.progress.stop()
                try:
                    self.tear_down()
                except Exception as exc:
                    # The run's results are whole: record them, print the summary, then say it.
                    traceback.print_exc()
                    tear_down_error = f"the testsuite's tear_down raised {type(exc).__name__}: {exc} (traceback above)"
        except _SetUpFailed:
            pass
        except KeyboardInterrupt:
            # RunInterrupted (a signal in set-up, planning or tear-down), or a
            # KeyboardInterrupt a hook raised itself: told as any interruption.
            if self._signal is None:
                self._signal = signal.SIGINT
        finally:
            with self._guard.deferred():  # the index and the lock's release are never cut short
                if engine is not None and not self.results:  # a signal came as run() returned them
                    self.results = engine.results
                if self._signal is not None:
                    self.results += self.skip_not_run(bus, to_run, writer)
                    if getattr(options, "failed", False):  # interrupted before it: the picture stays whole
                        self.carry_over(bus, writer)
                self.clean_working_dirs(working_root)
                self.finish_results_dir(writer, run_info, bus)
        with self._guard.deferred():  # a run an earlier signal stopped says so in full
            comparison = self.compare_with_previous()
            if set_up_error is not None:
                reporter.summary(self.results, comparison)
                self.write_reports(shown_results_dir)  # CI shows the ERRORs rather than a missing JUnit file
                print(f"e3suite: error: {set_up_error}", file=sys.stderr)
                return set_up_exit
            if writer.error is not None:
                # Scheduling stopped at the first write that failed; what was
                # written before it (journal, records) stays readable.
                print(f"e3suite: error: {writer.error}; the run stopped there", file=sys.stderr)
                reporter.summary(self.results, comparison)
                return EXIT_INTERNAL
            if options.rewrite:
                import io

                import e3suite.rewrite as rewrite  # only --rewrite runs need the stock drivers' baselines

                # Before the summary, whose line stays the run's last (README), and on the
                # reporter's stream: stderr when a report document goes to stdout (--json -).
                changes = io.StringIO()
                rewrite.print_summary(rewrite.rewritten(self.results), changes)
                reporter.write(changes.getvalue())
                rewrite.print_conflicts(self.results, sys.stderr)
            reporter.summary(self.results + self.carried, comparison)
            self.write_reports(shown_results_dir)
            if tear_down_error is not None:
                print(f"e3suite: error: {tear_down_error}", file=sys.stderr)
                if self._signal is None:
                    return EXIT_INTERNAL
            return self.exit_code()

    # -- steps -------------------------------------------------------------------

    def not_run(
        self, cases: list[discovery.Testcase], bus: EventBus, message: str, status: TestStatus = TestStatus.ERROR
    ) -> list[TestResult]:
        """A verdict for each testcase of a run that stopped before running (its set_up raised, Ctrl-C)."""
        results = []
        for case in cases:
            result = TestResult(case.test_id)
            result.set_status(status, message)
            results.append(result)
            bus.emit(TestFinished(result))
        return results

    def carry_over(self, bus: EventBus, writer: store.ResultsWriter, planned: Iterable[str] = ()) -> list[TestResult]:
        """``--failed``: the previous run's results of the testcases not run again, into this run's directory.

        They reach the journal as finished testcases marked ``carried_over``,
        before the engine starts (the terminal, status file and progress line
        do not listen yet): a run killed half-way still gives the whole
        picture to its report and to the next ``--failed``. The summary and
        the exit code count only what this run ran. The ``planned`` testcases
        and those the journal has already are left out.
        """
        part = set(self.sharding.part) if self.sharding is not None else None  # a shard carries its part only
        told = {entry["test"] for entry in writer.index}.union(planned)
        discovered = self.discovered_ids
        for result in rerun.carried_over(Path(self.options.output_dir) / "old", told, part, discovered):
            bus.emit(TestFinished(result))
            result.release_outputs(keep_out=False)  # its record holds them
            self.carried.append(result)
        return self.carried

    def skip_not_run(self, bus: EventBus, test_ids: Iterable[str], writer: store.ResultsWriter) -> list[TestResult]:
        """SKIP "not run: interrupted" for the testcases an interruption before the engine kept from running."""
        told = {entry["test"] for entry in writer.index}
        skipped = [TestResult(test, TestStatus.SKIP, NOT_RUN_INTERRUPTED) for test in test_ids if test not in told]
        for result in skipped:
            bus.emit(TestDiscovered(result.test_id))
            bus.emit(TestFinished(result))
        return skipped

    def _note_signal(self, signum: int) -> None:
        if self._signal is None:
            self._signal = signum

    def plan(self, cases: list[discovery.Testcase], working_root: Path, by_id: dict[str, Path]) -> Plan:
        def find_dependency(test_id: str) -> discovery.Testcase | None:
            test_dir = by_id.get(test_id)
            if test_dir is None:
                split = matrix.split_variant_id(test_id)
                test_dir = by_id.get(split[0]) if split is not None else None
            return self.load_testcase(test_id, test_dir) if test_dir is not None else None

        plan = build_plan(cases, self.options, working_root, find_dependency, self.history())
        if self.shuffle_seed is not None:
            set_shuffled_priorities(plan, self.shuffle_seed)
        return plan

    def history(self) -> dict[str, float]:
        """The previous run's durations (DIR/old), read once: priorities and estimates."""
        if self._history is None:
            self._history = store.previous_durations(Path(self.options.output_dir) / "old")
        return self._history

    def listeners(self, reporter: TerminalReporter) -> list[Sink]:
        """The sinks of the run's events besides the journal (terminal lines, progress)."""
        # A result's line once the journal holds it: what the terminal showed, a kill does not lose.
        after_written = self._writer.after_written if self._writer is not None else None
        listeners: list[Sink] = [TerminalSink(reporter, after_written)]
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

        def on_signal(signum: int) -> None:
            if self._signal is not None and signum == signal.SIGINT:
                executor.hurry()  # second Ctrl-C: no more grace for running processes
                return
            self._signal = signum
            engine.request_interrupt()

        status = self.status
        # kill -USR1 PID: the run's status printed here, the run goes on.
        extra: dict[int, Callable[[], None]] = {signal.SIGUSR1: status.request_print} if status is not None else {}
        keys = status_keys(status.request_print) if status is not None else None
        try:
            with engine_signals(on_signal, executor.set_wakeup_fd, extra):
                return engine.run()
        finally:
            self.time_limit_reached = engine.interrupted_because is not None
            if keys is not None:
                keys.stop()

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
            **({"shuffle_seed": self.shuffle_seed} if self.shuffle_seed is not None else {}),
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
        if self.time_limit_reached:  # a run that did not run everything never passes
            return int(self.options.failure_exit_code)
        if any(r.status is not None and r.status.is_failure for r in self.results):
            return int(self.options.failure_exit_code)
        return 0
