"""Retries: archiving a failed attempt and resetting what runs again.

A mixin of ``e3suite.engine.Engine`` (it works on the engine's state): when
a testcase's attempt failed and it may be tried again, the failed fragments
and those of the same testcase after them are reset (their states, the
values and counters their predecessors feed them), the fragments kept from
the attempt release their own testcase's successors, and a timer makes the
reset fragments ready after ``--retry-delay`` (``--retry-backoff``).
Predecessors in other testcases are never run again.
"""

from __future__ import annotations

import heapq
import time
from typing import Any

from e3suite.events import AttemptFailed, EventBus
from e3suite.model import Attempt, FragmentState, TestStatus
from e3suite.plan import Fragment, Plan
from e3suite.testcase_state import TestcaseState, fresh_result, merge_outcome
from e3suite.verdicts import AttemptState

#: ``result.info["rewrite"]`` when DiffDriver's ``--rewrite`` left the baseline as it was
#: (the stock drivers' word: this layer does not import them)
REWRITE_UNCHANGED = "unchanged"


class Retries:
    """The retry half of the engine; the attributes and methods below are the engine's."""

    plan: Plan
    bus: EventBus
    states: list[FragmentState]
    indegree: list[int]
    unsent: list[int]
    values: dict[int, Any]
    tests: dict[str, TestcaseState]
    retry_timers: list[tuple[float, int, str]]
    retries_started: int
    max_retries_total: int | None
    retry_delay: float
    retry_backoff: str
    stop_reason: str | None

    def _release(self, fragment: Fragment, succs: list[int], success: bool) -> None:
        raise NotImplementedError

    def _skip(self, index: int, message: str) -> None:
        raise NotImplementedError

    def _failure_message(self, fragment: Fragment) -> str:
        raise NotImplementedError

    def _make_ready(self, index: int) -> None:
        raise NotImplementedError

    def _may_retry(self, test: TestcaseState) -> bool:
        """Whether ``test``, whose attempt failed, gets another one.

        Not when ``--rewrite`` wrote (or will write) its baseline from this
        attempt: the next one would compare with its own output and pass, a
        FLAKY that hid the rewrite from the run's summary. Its verdict then
        says why it was not tried again.
        """
        if test.attempt >= test.attempts_allowed or self.stop_reason is not None:
            return False
        if test.state.result.info.get("rewrite", REWRITE_UNCHANGED) != REWRITE_UNCHANGED:
            test.drop_next_attempt("not run: --rewrite wrote its baseline")
            return False
        return self.max_retries_total is None or self.retries_started < self.max_retries_total

    def _retries_capped(self, test: TestcaseState) -> bool:
        """True when only ``--max-retries-total`` keeps ``test`` from its next attempt."""
        return (
            test.attempt < test.attempts_allowed and self.stop_reason is None
            and self.max_retries_total is not None and self.retries_started >= self.max_retries_total
        )

    def _retry(self, test: TestcaseState, verdict: tuple[TestStatus, str]) -> None:
        """Archive the failed attempt; reset what failed and what follows it in the testcase."""
        self.retries_started += 1
        state = test.state
        test.previous.append(self._archive(test, verdict))
        rerun = self._rerun_set(test)
        delay = self.retry_delay
        if self.retry_backoff == "exponential" and delay > 0:
            # Capped: 2 ** 1024 is no float (an OverflowError at the 1025th
            # retry), and 2 ** 62 times any delay is beyond any run already.
            delay *= 2.0 ** min(test.attempt - 1, 62)
        self.bus.emit(
            AttemptFailed(
                test.planned.test_id, test.attempt, test.attempts_allowed, verdict[0], verdict[1], delay,
                tuple(self.plan.fragments[i].fragment_id for i in rerun),
            )
        )
        test.attempt += 1
        test.final = test.attempt >= test.attempts_allowed
        test.attempt_start = None
        test.pending_retry = (state, rerun)
        # A new attempt: what the kept fragments reported, replayed.
        test.state = AttemptState(fresh_result(test.planned))
        rerun_set = set(rerun)
        kept = [(f, o) for f, o in test.contributions if f.index not in rerun_set]
        test.contributions = kept
        for fragment, outcome in kept:
            merge_outcome(test.state, fragment, outcome)
        for index in rerun:
            if self.states[index].is_terminal:
                test.remaining += 1
            self.states[index] = FragmentState.BLOCKED
            self.values.pop(index, None)
            test.stalled.pop(index, None)
        # Fragments kept from this attempt release their own testcase's
        # successors now; those in other testcases wait for the last attempt.
        for index, succs in list(test.stalled.items()):
            fragment = self.plan.fragments[index]
            same = [s for s in succs if self.plan.fragments[s].test_id == fragment.test_id]
            rest = [s for s in succs if s not in same]
            self._release(fragment, [s for s in same if s not in rerun_set], success=True)
            if rest:
                test.stalled[index] = rest
            else:
                del test.stalled[index]
        for index in rerun:
            fragment = self.plan.fragments[index]
            self.indegree[index] = sum(1 for p in fragment.preds if not self._satisfies(p, index, rerun_set))
            self.unsent[index] = len(fragment.succs)
            for pred in fragment.preds:
                self.unsent[pred] += 1  # it will need its predecessors' values again
        for index in rerun:
            # A predecessor in another testcase that failed for good still
            # keeps a "success" dependant from running.
            fragment = self.plan.fragments[index]
            spec = fragment.spec
            if self.states[index] is not FragmentState.BLOCKED or (spec is not None and spec.when == "always"):
                continue
            for pred in fragment.preds:
                if pred not in rerun_set and self._ended_badly(pred):
                    self._skip(index, self._failure_message(self.plan.fragments[pred]))
                    break
        due = time.monotonic() + delay
        heapq.heappush(self.retry_timers, (due, self.retries_started, test.planned.test_id))

    def _ended_badly(self, index: int) -> bool:
        owner = self.tests[self.plan.fragments[index].test_id]
        state = self.states[index]
        return state.is_terminal and (state is not FragmentState.COMPLETE or (owner.final and owner.state.failing))

    def _satisfies(self, pred: int, succ: int, rerun: set[int]) -> bool:
        if pred in rerun or not self.states[pred].is_terminal:
            return False
        owner = self.tests[self.plan.fragments[pred].test_id]
        return succ not in owner.stalled.get(pred, ())

    def _rerun_set(self, test: TestcaseState) -> list[int]:
        """The fragments that failed, and those of the testcase after them, in plan order."""
        test_id = test.planned.test_id
        seen = set(test.state.failed)
        stack = list(seen)
        while stack:
            for succ in self.plan.fragments[stack.pop()].succs:
                if succ not in seen and self.plan.fragments[succ].test_id == test_id:
                    seen.add(succ)
                    stack.append(succ)
        return sorted(seen)

    def _start_due_retries(self, now: float) -> None:
        while self.retry_timers and self.retry_timers[0][0] <= now:
            _, _, test_id = heapq.heappop(self.retry_timers)
            test = self.tests[test_id]
            if test.pending_retry is None or test.done:
                continue
            _, rerun = test.pending_retry
            for index in rerun:
                if self.states[index] is FragmentState.BLOCKED and self.indegree[index] == 0:
                    self._make_ready(index)

    def _archive(self, test: TestcaseState, verdict: tuple[TestStatus, str]) -> Attempt:
        ran = [r for r in test.records if r.attempt == test.attempt and r.start is not None]
        start = min((r.start for r in ran if r.start is not None), default=None)
        end = max((r.end for r in ran if r.end is not None), default=None)
        duration = sum(max(0.0, (r.end or 0.0) - (r.start or 0.0)) for r in ran)
        result = test.state.result
        return Attempt(
            number=test.attempt,
            status=verdict[0],
            message=verdict[1],
            duration=round(duration, 6),
            start=start,
            end=end,
            log=result.log,
            failure_reasons=sorted(r.value for r in result.failure_reasons),
        )

