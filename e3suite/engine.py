"""Run a plan on an executor and turn fragment outcomes into verdicts.

The engine owns the verdict rules (promise 1 of docs/index.md): every testcase of the plan
ends with exactly one verdict, persisted through the ResultsWriter as soon as
its last fragment ends. It keeps a ready queue (a heap keyed by critical-path
priority, then discovery order) and releases dependants as predecessors
complete, so scheduling is O((V + E) log V) over the run.

It never prints: what users see goes through the listener it is given.
It never runs a callback itself: executors do.
"""

from __future__ import annotations

import argparse
import heapq
from dataclasses import dataclass, field
from typing import Any

from e3suite.executors.base import Executor, FragmentOutcome, FragmentTask
from e3suite.model import FailureReason, FragmentRecord, FragmentState, TestResult, TestStatus
from e3suite.plan import Fragment, Plan, PlannedTest
from e3suite.store import ResultsWriter

#: Upper bound of the executor wait: the engine's housekeeping period.
HOUSEKEEPING_PERIOD = 0.5

INTERRUPTED = "interrupted"
NOT_RUN_INTERRUPTED = "not run: interrupted"
NOT_RUN_FAILURE_LIMIT = "not run: failure limit reached"
NOT_RUN_WRITE_ERROR = "not run: the results could not be written"


@dataclass
class _TestState:
    """The engine's book-keeping for one testcase while it runs."""

    planned: PlannedTest
    result: TestResult
    remaining: int
    verdict_by: str | None = None
    error: str | None = None
    timeout: str | None = None
    aborted: bool = False
    skip_message: str | None = None
    done: bool = False
    run_time: float = 0.0
    records: list[FragmentRecord] = field(default_factory=list)

    @property
    def failing(self) -> bool:
        """True when dependants of this testcase's fragments must not run."""
        status = self.result.status
        return (
            self.error is not None
            or self.timeout is not None
            or self.aborted
            or (status is not None and status.is_failure)
        )


class RunListener:
    """What the engine tells the outside world; every method is optional."""

    def fragment_started(self, fragment: Fragment, running: int) -> None:
        pass

    def fragment_ended(self, fragment: Fragment, outcome: FragmentOutcome) -> None:
        pass

    def test_finished(self, result: TestResult) -> None:
        pass


class _Broadcast(RunListener):
    def __init__(self, listeners: list[RunListener]) -> None:
        self.listeners = listeners

    def fragment_started(self, fragment: Fragment, running: int) -> None:
        for listener in self.listeners:
            listener.fragment_started(fragment, running)

    def fragment_ended(self, fragment: Fragment, outcome: FragmentOutcome) -> None:
        for listener in self.listeners:
            listener.fragment_ended(fragment, outcome)

    def test_finished(self, result: TestResult) -> None:
        for listener in self.listeners:
            listener.test_finished(result)


class Engine:
    def __init__(
        self,
        plan: Plan,
        executor: Executor,
        writer: ResultsWriter,
        options: argparse.Namespace,
        listeners: list[RunListener] | None = None,
    ) -> None:
        self.plan = plan
        self.executor = executor
        self.writer = writer
        self.options = options
        self.listener = _Broadcast(listeners or [])
        fragments = plan.fragments
        self.states = [FragmentState.BLOCKED] * len(fragments)
        self.indegree = [len(f.preds) for f in fragments]
        self.values: dict[int, Any] = {}  # return values awaited by dependants
        self.unsent = [len(f.succs) for f in fragments]
        self.tests = {
            test_id: _TestState(planned, TestResult(test_id), len(planned.fragments))
            for test_id, planned in plan.tests.items()
        }
        self.ready: list[tuple[float, int]] = []
        self.running = 0  # fragments handed to the executor (started, or queued in a worker)
        self.started = [False] * len(fragments)  # its start was journaled
        self.started_count = 0  # fragments really running now
        self.stop_reason: str | None = None  # set: schedule nothing more
        self.interrupt_requested = False
        self.failures = 0
        self.consecutive_failures = 0
        self.max_failures: int | None = getattr(options, "max_failures", None)
        self.max_consecutive: int | None = getattr(options, "max_consecutive_failures", None)
        self.default_timeout: float | None = getattr(options, "timeout", None)
        self.leak_fails = getattr(options, "leak_result", "pass") == "fail"
        self.results: list[TestResult] = []

    # -- public ------------------------------------------------------------

    def request_interrupt(self) -> None:
        """Stop now: called from a signal handler (only sets flags)."""
        self.interrupt_requested = True
        if self.stop_reason is None:
            self.stop_reason = NOT_RUN_INTERRUPTED

    def run(self) -> list[TestResult]:
        journal = self.writer.journal
        for test_id in self.tests:
            journal.write("test_discovered", test=test_id)
        self._fail_planned_errors()
        for fragment in self.plan.fragments:
            if self.states[fragment.index] is FragmentState.BLOCKED and self.indegree[fragment.index] == 0:
                self._make_ready(fragment.index)
        self.executor.start()
        try:
            try:
                self._loop()
            except KeyboardInterrupt:
                # A second Ctrl-C, or one that arrived outside the wait.
                self.request_interrupt()
            if self.interrupt_requested:
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
        while not self.interrupt_requested:
            if self.writer.error is not None and self.stop_reason is None:
                self.stop_reason = NOT_RUN_WRITE_ERROR
            self._fill_slots()
            if self.running == 0:
                break  # nothing runs and nothing more can start
            for outcome in self.executor.wait(HOUSEKEEPING_PERIOD):
                self._complete(outcome)
            # After the ends: a worker starts the fragment queued behind the
            # one it reported, and the journal tells them in that order.
            for started in self.executor.take_started():
                self._note_started(started.index, started.slot, started.time, started.pid)
            take_back = getattr(self.executor, "take_back_queued", None)
            if self.stop_reason is not None and take_back is not None:
                # Scheduling stopped: what an executor queued but did not
                # start is not run (running fragments finish).
                for outcome in take_back():
                    self._complete(outcome)

    def _fill_slots(self) -> None:
        ready, executor = self.ready, self.executor
        while ready and self.stop_reason is None and executor.free_slots() > 0:
            _, index = heapq.heappop(ready)
            if self.states[index] is not FragmentState.READY:
                continue
            self._submit(self.plan.fragments[index])

    def _make_ready(self, index: int) -> None:
        self.states[index] = FragmentState.READY
        heapq.heappush(self.ready, (-self.plan.fragments[index].priority, index))

    def _submit(self, fragment: Fragment) -> None:
        test = self.tests[fragment.test_id]
        planned = test.planned
        assert fragment.spec is not None and planned.working_dir is not None
        previous = {}
        for pred in fragment.preds:
            pred_fragment = self.plan.fragments[pred]
            key = pred_fragment.name if pred_fragment.test_id == fragment.test_id else pred_fragment.fragment_id
            previous[key] = self.values.get(pred)
            # Keep a return value only until its last dependant has it.
            self.unsent[pred] -= 1
            if self.unsent[pred] == 0:
                self.values.pop(pred, None)
        timeout = fragment.spec.timeout
        if timeout is None:
            timeout = planned.case.test_env.get("timeout", self.default_timeout)
        task = FragmentTask(
            index=fragment.index,
            fragment_id=fragment.fragment_id,
            test_id=fragment.test_id,
            name=fragment.name,
            callback=fragment.spec.callback,
            test_env=planned.case.test_env,
            test_dir=planned.case.test_dir,
            working_dir=planned.working_dir,
            options=self.options,
            previous=previous,
            result=test.result.working_copy(),
            matrix=planned.case.matrix,
            timeout=float(timeout) if isinstance(timeout, (int, float)) else None,
        )
        self.states[fragment.index] = FragmentState.RUNNING
        self.running += 1
        self.executor.submit(task)

    def _note_started(self, index: int, slot: int, at: float, pid: int | None) -> None:
        """A fragment really began: journal it with its real start, tell listeners."""
        if self.started[index] or self.states[index] is not FragmentState.RUNNING:
            return
        self.started[index] = True
        self.started_count += 1
        fragment = self.plan.fragments[index]
        self.writer.journal.write("fragment_started", fragment=fragment.fragment_id, time=at, slot=slot, pid=pid)
        self.listener.fragment_started(fragment, self.started_count)

    # -- completions ---------------------------------------------------------

    def _complete(self, outcome: FragmentOutcome) -> None:
        index = outcome.index
        if self.states[index] is not FragmentState.RUNNING:
            return  # a late report after an interruption
        if outcome.state is FragmentState.READY:
            # The executor gives back a fragment it had queued but not
            # started: schedule it again (or skip it if scheduling stopped).
            self.running -= 1
            self._make_ready(index)
            return
        fragment = self.plan.fragments[index]
        # An executor may tell a start only with the end (a short fragment).
        self._note_started(index, outcome.slot, outcome.start, None)
        self.states[index] = outcome.state
        self.running -= 1
        self.started_count -= 1
        test = self.tests[fragment.test_id]
        record = FragmentRecord(fragment.name, outcome.state, outcome.slot, outcome.start, outcome.end)
        test.records.append(record)
        test.run_time += max(0.0, outcome.end - outcome.start)
        self.writer.journal.write("fragment_ended", fragment=fragment.fragment_id, **_record_fields(record))
        self._merge(test, fragment, outcome)
        self.listener.fragment_ended(fragment, outcome)
        if outcome.state is FragmentState.COMPLETE and not test.failing:
            if fragment.succs:
                self.values[index] = outcome.return_value
            for succ in fragment.succs:
                self.indegree[succ] -= 1
                if self.indegree[succ] == 0 and self.states[succ] is FragmentState.BLOCKED:
                    self._make_ready(succ)
        elif outcome.state is not FragmentState.ABORTED:
            self._skip_dependants(fragment, f"dependency {fragment.fragment_id} failed")
        # (Dependants of an aborted fragment are skipped with the stop reason.)
        self._fragment_done(test)

    def _merge(self, test: _TestState, fragment: Fragment, outcome: FragmentOutcome) -> None:
        result, delta = test.result, outcome.delta
        if delta.log:
            result.log += delta.log
        result.failure_reasons.update(delta.failure_reasons)
        result.info.update(delta.info)
        result.processes.extend(delta.processes)
        for name in ("out", "expected", "diff"):
            value = getattr(delta, name)
            if value is not None:
                setattr(result, name, value)
        for call in delta.verdicts:
            if test.verdict_by is None:
                test.verdict_by = fragment.fragment_id
                result.status, result.message = call.status, call.message
            elif test.error is None:
                test.error = (
                    f"verdict set twice: {result.status.value if result.status else '?'} by "
                    f"{test.verdict_by}, then {call.status.value} by {fragment.fragment_id}"
                )
        if outcome.state is FragmentState.FAILED and test.error is None:
            test.error = outcome.error or f"{fragment.fragment_id} failed"
        elif outcome.state is FragmentState.TIMEDOUT and test.timeout is None:
            test.timeout = outcome.error or "timed out"
            result.failure_reasons.add(FailureReason.TIMEOUT)
        elif outcome.state is FragmentState.ABORTED:
            test.aborted = True
        if outcome.failure_reason is not None:
            result.failure_reasons.add(outcome.failure_reason)
        if outcome.leaks:
            result.failure_reasons.add(FailureReason.LEAK)
            count = len(outcome.leaks)
            result.log += (
                ("" if not result.log or result.log.endswith("\n") else "\n")
                + f"{fragment.fragment_id} left {count} process{'es' if count > 1 else ''} running (killed): "
                + ", ".join(outcome.leaks)
                + "\n"
            )
        if outcome.details:
            result.log += ("" if not result.log or result.log.endswith("\n") else "\n") + outcome.details

    def _skip_dependants(self, fragment: Fragment, message: str) -> None:
        stack = list(fragment.succs)
        while stack:
            index = stack.pop()
            if self.states[index].is_terminal or self.states[index] is FragmentState.RUNNING:
                continue
            self.states[index] = FragmentState.SKIPPED
            dependant = self.plan.fragments[index]
            test = self.tests[dependant.test_id]
            if test.skip_message is None:
                test.skip_message = message
            test.records.append(FragmentRecord(dependant.name, FragmentState.SKIPPED))
            stack.extend(dependant.succs)
            self._fragment_done(test)

    def _fail_planned_errors(self) -> None:
        """Testcases in error from discovery or planning: fail their fragments.

        Their fragments are all marked first, then their dependants skipped,
        so that no errored testcase is finalized twice.
        """
        errored = [test for test in self.tests.values() if test.planned.error is not None]
        for test in errored:
            test.error = test.planned.error
            if test.planned.details:
                test.result.log += test.planned.details
            for index in test.planned.fragments.values():
                self.states[index] = FragmentState.FAILED
            test.remaining = 0
        for test in errored:
            for index in test.planned.fragments.values():
                fragment = self.plan.fragments[index]
                self._skip_dependants(fragment, f"dependency {fragment.fragment_id} failed")
        for test in errored:
            self._finalize(test)
        for test in self.tests.values():
            verdict = test.planned.case.verdict
            if verdict is None or test.done:
                continue
            # Decided before running (skipped by control...): placeholders
            # stand for the fragments other testcases depend on.
            for index in test.planned.fragments.values():
                self.states[index] = FragmentState.SKIPPED
            test.remaining = 0
            self._finalize(test)
            status, message = verdict
            how = "was skipped" if status is TestStatus.SKIP else f"did not run ({status.value})"
            reason = f": {message}" if message else ""
            for index in test.planned.fragments.values():
                fragment = self.plan.fragments[index]
                self._skip_dependants(fragment, f"dependency {fragment.fragment_id} {how}{reason}")

    def _skip_not_run(self) -> None:
        """After a stop: every fragment that never ran is skipped with the reason."""
        message = self.stop_reason or "not run"
        for fragment in self.plan.fragments:
            state = self.states[fragment.index]
            if state.is_terminal:
                continue
            self.states[fragment.index] = FragmentState.SKIPPED
            test = self.tests[fragment.test_id]
            if state is FragmentState.RUNNING:
                test.aborted = True  # an executor that could not report it
            elif test.skip_message is None:
                test.skip_message = message
            test.records.append(FragmentRecord(fragment.name, FragmentState.SKIPPED))
            self._fragment_done(test)
        for test in self.tests.values():
            if not test.done:
                test.skip_message = test.skip_message or message
                self._finalize(test)

    def _fragment_done(self, test: _TestState) -> None:
        test.remaining -= 1
        if test.remaining <= 0 and not test.done:
            self._finalize(test)

    # -- verdicts ------------------------------------------------------------

    def _finalize(self, test: _TestState) -> None:
        if test.done:
            return
        test.done = True
        result = test.result
        if test.error is not None:
            result.status, result.message = TestStatus.ERROR, test.error
        elif test.timeout is not None:
            result.status, result.message = TestStatus.FAIL, test.timeout
        elif test.aborted:
            result.status, result.message = TestStatus.ERROR, INTERRUPTED
        elif test.planned.case.verdict is not None:
            result.status, result.message = test.planned.case.verdict
        elif result.status is None:
            if test.skip_message is not None:
                result.status, result.message = TestStatus.SKIP, test.skip_message
            else:
                result.status, result.message = TestStatus.ERROR, "no verdict"
        if (
            self.leak_fails
            and FailureReason.LEAK in result.failure_reasons
            and not (result.status.is_failure or result.status.is_skip)
        ):
            reason = "left processes running (--leak-result fail)"
            result.status = TestStatus.FAIL
            result.message = f"{reason}; {result.message}" if result.message else reason
        expected_failure = test.planned.case.expected_failure
        if expected_failure is not None and result.status in (TestStatus.PASS, TestStatus.FAIL):
            failed = result.status is TestStatus.FAIL
            result.status = TestStatus.XFAIL if failed else TestStatus.XPASS
            reason = f"expected failure: {expected_failure}" if expected_failure else "expected failure"
            result.message = f"{reason} ({result.message})" if result.message else reason
        ran = [r for r in test.records if r.start is not None]
        result.fragments = sorted(test.records, key=lambda r: (r.start is None, r.start or 0.0, r.name))
        if ran:
            result.start = min(r.start for r in ran if r.start is not None)
            result.end = max(r.end for r in ran if r.end is not None)
        result.duration = round(test.run_time, 6)
        self.writer.write_result(result)
        self.results.append(result)
        self._count_failure(result.status)
        self.listener.test_finished(result)

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


def _record_fields(record: FragmentRecord) -> dict[str, Any]:
    return {"state": record.state.value, "slot": record.slot, "start": record.start, "end": record.end}
