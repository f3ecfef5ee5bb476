"""Run a plan on an executor as a stream of attempts; decide and commit verdicts.

The engine owns the verdict rules (promise 1 of docs/index.md): every
testcase of the plan ends with exactly one verdict. It keeps a ready queue
(a heap keyed by critical-path priority, then discovery order), releases
dependants as predecessors end, and tells everything it does as events on
the run's bus (``e3suite.events``): the journal, the terminal, the progress
line and the status file are sinks of that stream.

A testcase may be tried several times (``retries``). When an attempt fails,
nothing downstream of what failed is released or skipped while the
testcase may still be retried: once none of its fragments runs, the failed
fragments and those of the same testcase after them are reset and run again
(after ``--retry-delay``), predecessors in other testcases keep their
return values. Deciding a verdict is ``e3suite.verdicts``' pure function;
committing it (the TestFinished event, counts) comes after, so a retried
attempt never reaches a report as final.

It never prints, never writes files and never runs a callback itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Iterable
from typing import Any

from e3suite.admission import Admission, Demand, Grant, impossible
from e3suite.events import (
    EventBus,
    FragmentEnded,
    FragmentQueued,
    FragmentStarted,
    FragmentWaiting,
    RunStopping,
    Sink,
    TestDiscovered,
    TestFinished,
)
from e3suite.executors.base import Executor, FragmentOutcome, FragmentTask
from e3suite.model import (
    NOT_RUN_FAILURE_LIMIT,
    NOT_RUN_INTERRUPTED,
    NOT_RUN_PREFIX,
    NOT_RUN_WRITE_ERROR,
    DependencyOutcome,
    FragmentRecord,
    FragmentState,
    TestResult,
    TestStatus,
    time_limit_reached,
)
from e3suite.plan import Fragment, Plan, PlannedTest
from e3suite.propagation import Propagation
from e3suite.retries import Retries
from e3suite.testcase_state import TestcaseState, demand_of, fresh_result, merge_outcome
from e3suite.verdicts import INTERRUPTED, AttemptState, Rules, attempt_verdict, final_verdict, retryable

#: Upper bound of the executor wait: the engine's housekeeping period.
HOUSEKEEPING_PERIOD = 0.5


__all__ = ["INTERRUPTED", "NOT_RUN_FAILURE_LIMIT", "NOT_RUN_INTERRUPTED", "NOT_RUN_WRITE_ERROR", "Engine"]


class Engine(Propagation, Retries):
    def __init__(
        self,
        plan: Plan,
        executor: Executor,
        events: EventBus | Sink,
        options: argparse.Namespace,
        listeners: Iterable[Sink] | None = None,
    ) -> None:
        self.plan = plan
        self.executor = executor
        self.bus = events if isinstance(events, EventBus) else EventBus([events, *(listeners or [])])
        self.options = options
        fragments = plan.fragments
        self.states = [FragmentState.BLOCKED] * len(fragments)
        self.indegree = [len(f.preds) for f in fragments]
        self.values: dict[int, Any] = {}  # return values awaited by dependants
        self.unsent = [len(f.succs) for f in fragments]
        self.attempt_of = [1] * len(fragments)
        jobs = int(getattr(options, "jobs", 1) or 1)
        self.capacities: dict[str, int] = dict(getattr(options, "resource_capacities", None) or {})
        # Light fragments may also wait one in each busy worker's queue.
        self.admission = Admission(jobs, self.capacities, lookahead=jobs)
        declared = [demand_of(f, plan.tests[f.test_id]) for f in fragments]
        self.declared_resources = [d.resources for d in declared]
        self.demands = [self._engine_demand(d) for d in declared]
        self._told_waiting: dict[int, str] = {}
        self._later_skips = []  # see Propagation
        self.retry_timers: list[tuple[float, int, str]] = []  # (due, sequence, test id)
        self.running = 0  # fragments handed to the executor (started, or queued in a worker)
        self.started = [False] * len(fragments)  # its start was told
        self.stop_reason: str | None = None  # set: schedule nothing more
        self.interrupt_requested = False
        #: why running fragments were interrupted, when not by a signal (--max-time)
        self.interrupted_because: str | None = None
        self.max_time: float | None = getattr(options, "max_time", None)
        self.kill_grace = float(getattr(options, "kill_grace", 2.0) or 0.0)
        self.deadline: float | None = None  # time.monotonic() of --max-time, from the loop's start
        self.failures = 0
        self.consecutive_failures = 0
        self.max_failures: int | None = getattr(options, "max_failures", None)
        self.max_consecutive: int | None = getattr(options, "max_consecutive_failures", None)
        self.default_timeout: float | None = getattr(options, "timeout", None)
        self.leak_fails = getattr(options, "leak_result", "pass") == "fail"
        self.recycle_dirs = getattr(options, "cleanup_mode", None) == "all"
        self.retries_started = 0
        self.max_retries_total: int | None = getattr(options, "max_retries_total", None)
        self.retry_delay = float(getattr(options, "retry_delay", 0.0) or 0.0)
        self.retry_backoff = getattr(options, "retry_backoff", "fixed")
        self.tests = {test_id: self._new_test_state(planned) for test_id, planned in plan.tests.items()}
        self.results: list[TestResult] = []

    def _new_test_state(self, planned: PlannedTest) -> TestcaseState:
        case = planned.case
        rules = Rules(case.verdict, case.expected_failure, self.leak_fails)
        if planned.error is None:
            for index in planned.fragments.values():
                reason = impossible(self.demands[index], self.capacities)
                if reason is not None:
                    planned.error = reason  # at plan time: the others still run
                    break
        allowed = 1 + self._retries_of(planned)
        test = TestcaseState(planned, rules, allowed, AttemptState(fresh_result(planned)), len(planned.fragments))
        test.final = allowed == 1
        return test

    def _engine_demand(self, demand: Demand) -> Demand:
        """What the engine itself counts of ``demand``.

        On an executor whose workers declare resources (Dask), a name the
        testsuite does not count is the workers' to check and hold.
        """
        if not demand.resources or not self.executor.places_worker_resources:
            return demand
        counted = tuple((name, count) for name, count in demand.resources if name in self.capacities)
        return dataclasses.replace(demand, resources=counted)

    def _retries_of(self, planned: PlannedTest) -> int:
        """test.yaml's ``retries``, else ``--retries``, else the driver's default."""
        value = planned.case.test_env.get("retries")
        if isinstance(value, int) and not isinstance(value, bool):
            return max(0, value)
        option = getattr(self.options, "retries", None)
        if isinstance(option, int):
            return max(0, option)
        driver = planned.driver
        default = getattr(type(driver), "retries", 0) if driver is not None else 0
        # Checked at start (Selection.check_driver_map): a usage error, not an int() here.
        return default if isinstance(default, int) and not isinstance(default, bool) and default > 0 else 0

    # -- public ------------------------------------------------------------

    def request_interrupt(self) -> None:
        """Stop now: called from a signal handler (only sets flags)."""
        self.interrupt_requested = True
        if self.stop_reason is None:
            self.stop_reason = NOT_RUN_INTERRUPTED

    def run(self) -> list[TestResult]:
        for test_id in self.tests:
            self.bus.emit(TestDiscovered(test_id))
        self._fail_planned_errors()
        for fragment in self.plan.fragments:
            if self.states[fragment.index] is FragmentState.BLOCKED and self.indegree[fragment.index] == 0:
                self._make_ready(fragment.index)
        use_factory = getattr(self.executor, "use_task_factory", None)
        if use_factory is not None:
            use_factory(self.make_task)
        self.executor.start()
        if self.executor.jobs > self.admission.jobs:
            # Sized as it started (a Dask executor: its cluster's threads,
            # times the fragments of a batch): admission holds as many
            # fragments as the executor accepts.
            self.admission.jobs = self.executor.jobs
        try:
            try:
                self._loop()
            except KeyboardInterrupt:
                # A second Ctrl-C, or one that arrived outside the wait.
                self.request_interrupt()
            if self.interrupt_requested:
                if self.running:  # the grace may be long: say what is going on
                    reason = self.interrupted_because or INTERRUPTED
                    # Those told started (the ones queued behind them are given back, not ended).
                    running = sum(self.started) or self.running
                    self.bus.emit(RunStopping(reason, running, self.kill_grace))
                # In plan order, not in the order processes died: the same
                # interruption reads the same.
                for outcome in sorted(self.executor.interrupt(), key=lambda o: o.index):
                    self._complete(outcome)
        finally:
            self.executor.shutdown()  # workers and their processes end with the run
        self._skip_not_run()
        return self.results

    # -- scheduling ----------------------------------------------------------

    def _loop(self) -> None:
        executor, bus = self.executor, self.bus
        if self.max_time is not None:
            self.deadline = time.monotonic() + self.max_time
        while not self.interrupt_requested:
            if bus.failure is not None and self.stop_reason is None:
                self.stop_reason = NOT_RUN_WRITE_ERROR
            now = time.monotonic()
            if self.deadline is not None and now >= self.deadline and not all(t.done for t in self.tests.values()):
                self._stop_at_time_limit()
                break  # what runs is interrupted, what waits behind it given back (executor.interrupt)
            if self.retry_timers:
                self._start_due_retries(now)
            self._fill_slots()
            waiting_retry = bool(self.retry_timers) and self.stop_reason is None
            if self.running == 0 and not waiting_retry:
                break  # nothing runs and nothing more can start
            timeout = HOUSEKEEPING_PERIOD
            if waiting_retry:
                timeout = max(0.0, min(timeout, self.retry_timers[0][0] - now))
            if self.deadline is not None:
                timeout = max(0.0, min(timeout, self.deadline - now))
            # Before waiting: the journal writes what this turn told (see
            # ResultsWriter), the progress line and status file catch up.
            bus.housekeeping(time.monotonic())
            for outcome in executor.wait(timeout):
                self._complete(outcome)
            # After the ends: a worker starts the fragment queued behind the
            # one it reported, and the events tell them in that order.
            for started in executor.take_started():
                self._note_started(started.index, started.slot, started.time, started.pid)
            if self.stop_reason is not None:
                # Scheduling stopped: what an executor queued but did not
                # start is not run (running fragments finish).
                for outcome in executor.take_back_queued():
                    self._complete(outcome)

    def _stop_at_time_limit(self) -> None:
        """--max-time: as an interruption (running fragments end ERROR), but saying why."""
        assert self.max_time is not None
        why = time_limit_reached(self.max_time)
        self.interrupted_because = why
        if self.stop_reason is None:
            self.stop_reason = NOT_RUN_PREFIX + why
        self.interrupt_requested = True

    def _fill_slots(self) -> None:
        if self.stop_reason is not None:
            return
        executor, states, fragments = self.executor, self.states, self.plan.fragments

        def can_submit(demand: Demand, ahead: bool) -> bool:
            if ahead:  # the slots are taken: it may only wait behind a running fragment
                return executor.idle_slots() == 0 and executor.free_slots() > 0
            return executor.free_slots() > 0 if demand.light else executor.idle_slots() > 0

        for index, grant in self.admission.admit(lambda i: states[i] is FragmentState.READY, can_submit):
            self._submit(fragments[index], grant)
        if self.admission.waiting:
            self._tell_waiting()
        if self.admission.should_take_back(executor.idle_slots()):
            taken = executor.take_back_queued()
            for outcome in taken:
                self._complete(outcome)
            if taken:
                self._fill_slots()

    def _tell_waiting(self) -> None:
        """A FragmentWaiting event when what a ready fragment waits for changes (not for a plain slot)."""
        told = self._told_waiting
        for index, reason in self.admission.waiting.items():
            if reason != "a free slot" and told.get(index) != reason:
                told[index] = reason
                fragment = self.plan.fragments[index]
                self.bus.emit(FragmentWaiting(index, fragment.fragment_id, fragment.test_id, reason))

    def _make_ready(self, index: int) -> None:
        self.states[index] = FragmentState.READY
        self.admission.push(index, self.plan.fragments[index].priority, self.demands[index])

    def _submit(self, fragment: Fragment, grant: Grant | None = None) -> None:
        test = self.tests[fragment.test_id]
        previous: dict[str, Any] = {}
        outcomes: dict[str, DependencyOutcome] = {}
        for pred in fragment.preds:
            pred_fragment = self.plan.fragments[pred]
            same_test = pred_fragment.test_id == fragment.test_id
            key = pred_fragment.name if same_test else pred_fragment.fragment_id
            previous[key] = self.values.get(pred)
            pred_state = self.tests[pred_fragment.test_id].state
            outcomes[key] = DependencyOutcome(
                self.states[pred], pred_state.result.status, pred_state.result.message
            )
        task = self.make_task(
            fragment.index,
            previous=previous,
            result=test.state.result.working_copy(),
            attempt=test.attempt,
            outcomes=outcomes,
            resources=dict(grant.instances) if grant is not None else {},
            # Nothing reads its working directory after this fragment: not
            # the testcase (no retry, nothing else left), not a dependant.
            recycle_working_dir=self.recycle_dirs and test.final and test.remaining == 1 and not fragment.succs,
        )
        self._told_waiting.pop(fragment.index, None)
        self.states[fragment.index] = FragmentState.RUNNING
        self.attempt_of[fragment.index] = test.attempt
        test.pending_retry = None  # its new attempt has begun
        self.running += 1
        test.running += 1
        self.bus.emit(FragmentQueued(fragment.index, fragment.fragment_id, fragment.test_id, test.attempt))
        self.executor.submit(task)

    def make_task(
        self,
        index: int,
        *,
        previous: dict[str, Any],
        result: TestResult,
        attempt: int,
        outcomes: dict[str, DependencyOutcome],
        resources: dict[str, list[int]],
        recycle_working_dir: bool,
    ) -> FragmentTask:
        """The task of fragment ``index``: what planning fixed, and the given parts of this attempt.

        The local executor's workers, forked from the engine after planning,
        rebuild tasks with this from the parts that change (see
        ``MultiprocessScheduler.use_task_factory``): the callback, its
        driver, the options and paths never travel through the pipe.
        """
        fragment = self.plan.fragments[index]
        planned = self.plan.tests[fragment.test_id]
        assert fragment.spec is not None and planned.working_dir is not None
        timeout = fragment.spec.timeout
        if timeout is None:
            timeout = planned.case.test_env.get("timeout", self.default_timeout)
        return FragmentTask(
            index=index,
            fragment_id=fragment.fragment_id,
            test_id=fragment.test_id,
            name=fragment.name,
            callback=fragment.spec.callback,
            test_env=planned.case.test_env,
            test_dir=planned.case.test_dir,
            working_dir=planned.working_dir,
            options=self.options,
            previous=previous,
            result=result,
            matrix=planned.case.matrix,
            timeout=float(timeout) if isinstance(timeout, (int, float)) else None,
            attempt=attempt,
            outcomes=outcomes,
            resources=resources,
            declared_resources=self.declared_resources[index],
            recycle_working_dir=recycle_working_dir,
        )

    def _note_started(self, index: int, slot: int, at: float, pid: int | None) -> None:
        """A fragment really began: tell it with its real start."""
        if self.started[index] or self.states[index] is not FragmentState.RUNNING:
            return
        self.started[index] = True
        fragment = self.plan.fragments[index]
        test = self.tests[fragment.test_id]
        if test.attempt_start is None:
            test.attempt_start = at
        self.bus.emit(
            FragmentStarted(index, fragment.fragment_id, fragment.test_id, self.attempt_of[index], slot, at, pid)
        )

    # -- completions ---------------------------------------------------------

    def _complete(self, outcome: FragmentOutcome) -> None:
        index = outcome.index
        if self.states[index] is not FragmentState.RUNNING:
            return  # a late report after an interruption
        fragment = self.plan.fragments[index]
        test = self.tests[fragment.test_id]
        self.admission.release(index)  # all it held, at once
        if outcome.state is FragmentState.READY:
            # The executor gives back a fragment it had queued but not
            # started: schedule it again (or skip it if scheduling stopped).
            self.running -= 1
            test.running -= 1
            self._make_ready(index)
            return
        # An executor may tell a start only with the end (a short fragment).
        self._note_started(index, outcome.slot, outcome.start, None)
        self.started[index] = False  # a retry tells its own start
        # Keep a return value until its last dependant has ended (not merely
        # been sent it: one taken back unstarted is sent it again), and that
        # dependant cannot be tried again, needing it once more.
        for pred in fragment.preds:
            self.unsent[pred] -= 1
            if self.unsent[pred] <= 0 and test.final:
                self.values.pop(pred, None)
        self.states[index] = outcome.state
        self.running -= 1
        test.running -= 1
        record = FragmentRecord(
            fragment.name, outcome.state, outcome.slot, outcome.start, outcome.end, self.attempt_of[index]
        )
        test.records.append(record)
        test.run_time += max(0.0, outcome.end - outcome.start)
        self.bus.emit(
            FragmentEnded(
                index, fragment.fragment_id, fragment.test_id, self.attempt_of[index], outcome.state,
                outcome.slot, outcome.start, outcome.end, outcome.error,
            )
        )
        was_failing = test.state.failing
        merge_outcome(test.state, fragment, outcome)
        if not test.final:  # only a retry replays them: keep no outcome longer than needed
            test.contributions.append((fragment, outcome))
        if outcome.state in (FragmentState.FAILED, FragmentState.TIMEDOUT) or (
            test.state.failing and not was_failing
        ):
            test.state.failed.add(index)
        test.remaining -= 1
        if outcome.state is FragmentState.ABORTED:
            pass  # its dependants are skipped with the stop reason (see _skip_not_run)
        elif outcome.state is FragmentState.COMPLETE and not test.state.failing:
            if fragment.succs:
                self.values[index] = outcome.return_value
            self._release(fragment, fragment.succs, success=True)
        elif test.final:
            if outcome.state is FragmentState.COMPLETE and fragment.succs:
                self.values[index] = outcome.return_value
            self._release(fragment, fragment.succs, success=False)
        else:
            # The testcase may be tried again: what comes after this waits
            # for its last attempt.
            if outcome.state is FragmentState.COMPLETE and fragment.succs:
                self.values[index] = outcome.return_value
            test.stalled[index] = list(fragment.succs)
        self._settle(test)
        self._skip_later_ones()

    def _settle(self, test: TestcaseState) -> None:
        """After one of its fragments ended: retry the testcase, let its failure spread, or finalize it."""
        if test.done:
            return
        if not test.final and test.state.failing and test.running == 0:
            verdict = attempt_verdict(test.state, test.rules)
            if retryable(test.state, verdict):
                if self._may_retry(test):
                    self._retry(test, verdict)
                    return
                if self._retries_capped(test):  # else nothing says why it was not tried again
                    test.drop_next_attempt(f"{NOT_RUN_PREFIX}--max-retries-total {self.max_retries_total} reached")
            self._make_final(test)
        if test.remaining <= 0:
            self._finalize(test)

    def _make_final(self, test: TestcaseState) -> None:
        """No more attempts: what waited on this testcase's failure is released or skipped now."""
        test.final = True
        stalled, test.stalled = test.stalled, {}
        failing = test.state.failing
        for index, succs in stalled.items():
            fragment = self.plan.fragments[index]
            success = not failing and self.states[index] is FragmentState.COMPLETE
            self._release(fragment, succs, success=success)

    # -- planning errors, stops ------------------------------------------------

    def _fail_planned_errors(self) -> None:
        """Testcases in error from discovery or planning, or decided before running.

        Their fragments are all marked first, then their dependants skipped,
        so that no such testcase is finalized twice.
        """
        decided: list[tuple[TestcaseState, FragmentState]] = []
        for test in self.tests.values():
            if test.planned.error is not None:
                test.state.error = test.planned.error
                if test.planned.details:
                    test.state.result.log += test.planned.details
                decided.append((test, FragmentState.FAILED))
            elif test.planned.case.verdict is not None:
                decided.append((test, FragmentState.SKIPPED))
        for test, state in decided:
            test.final = True
            for index in test.planned.fragments.values():
                self.states[index] = state
            test.remaining = 0
        # Errors first, their dependants before them (as they are found);
        # testcases decided before running are told before those they skip.
        for test, state in decided:
            if state is FragmentState.FAILED:
                self._skip_dependants_of(test, "failed")
        for test, state in decided:
            if state is FragmentState.FAILED:
                self._finalize(test)
        for test, state in decided:
            if state is FragmentState.SKIPPED:
                self._finalize(test)
                status, message = test.planned.case.verdict or (TestStatus.SKIP, "")
                how = "was skipped" if status is TestStatus.SKIP else f"did not run ({status.value})"
                self._skip_dependants_of(test, how + (f": {message}" if message else ""))

    def _skip_not_run(self) -> None:
        """After a stop: every fragment that never ran is skipped with the reason."""
        message = self.stop_reason or "not run"
        for test in self.tests.values():
            if test.pending_retry is not None and not test.done:
                # Its next attempt never started: the failed one is its last.
                failed_attempt, rerun = test.pending_retry
                test.pending_retry = None
                test.state = failed_attempt
                test.attempt -= 1
                test.previous.pop()
                test.drop_next_attempt(message)
                # Its fragments reset for the retry end as they ended in it, not
                # listed a second time as skipped.
                ended = {r.name: r.state for r in test.records if r.attempt == test.attempt}
                for index in rerun:
                    name = self.plan.fragments[index].name
                    if not self.states[index].is_terminal and name in ended:
                        self.states[index] = ended[name]
                        test.remaining -= 1
        for fragment in self.plan.fragments:
            state = self.states[fragment.index]
            if state.is_terminal:
                continue
            self.states[fragment.index] = FragmentState.SKIPPED
            test = self.tests[fragment.test_id]
            if state is FragmentState.RUNNING:
                test.state.aborted = True  # an executor that could not report it
            elif test.state.skip_message is None:
                test.state.skip_message = message
            test.records.append(FragmentRecord(fragment.name, FragmentState.SKIPPED, attempt=test.attempt))
            test.remaining -= 1
        for test in self.tests.values():
            if not test.done:
                test.state.skip_message = test.state.skip_message or message
                self._finalize(test)

    # -- verdicts: decide, then commit -------------------------------------------

    def _finalize(self, test: TestcaseState) -> None:
        if test.done:
            return
        test.done = True
        last = attempt_verdict(test.state, test.rules)
        if last[1] == INTERRUPTED and self.interrupted_because is not None:  # the attempt says what stopped it
            last = (last[0], f"{INTERRUPTED}: {self.interrupted_because}")
        status, message = final_verdict(last, test.previous)
        if test.retry_dropped is not None:  # else nothing says why the RETRY line's attempt never came
            message = f"{message} ({test.retry_dropped})" if message else test.retry_dropped
        result = test.state.result
        result.status, result.message = status, message
        if test.previous:
            result.attempts = [*test.previous, self._archive(test, last)]
            result.attempts_allowed = test.attempts_allowed
        ran = [r for r in test.records if r.start is not None]
        result.fragments = sorted(test.records, key=lambda r: (r.start is None, r.start or 0.0, r.name))
        if ran:
            result.start = min(r.start for r in ran if r.start is not None)
            result.end = max(r.end for r in ran if r.end is not None)
        result.duration = round(test.run_time, 6)
        self.results.append(result)
        self.bus.emit(TestFinished(result))
        self._count_failure(result.status)
        # Results of their own ids it reported (e3-testsuite's push_result):
        # each a record, a line and a count of its own, after its parent.
        subs, result.sub_results = result.sub_results, []
        for sub in subs:
            sub.start, sub.end, sub.duration = result.start, result.end, 0.0
            self.results.append(sub)
            self.bus.emit(TestFinished(sub))
            self._count_failure(sub.status or TestStatus.ERROR)

    def _count_failure(self, status: TestStatus) -> None:
        if status.is_failure:
            self.failures += 1
            self.consecutive_failures += 1
        elif not status.is_skip:
            self.consecutive_failures = 0
        if self.stop_reason is not None:
            return
        if (self.max_failures and self.failures >= self.max_failures) or (
            self.max_consecutive and self.consecutive_failures >= self.max_consecutive
        ):
            self.stop_reason = NOT_RUN_FAILURE_LIMIT
