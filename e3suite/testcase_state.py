"""The engine's book-keeping for one testcase, and folding fragment outcomes into it.

Plain state and pure functions used by ``e3suite.engine`` and
``e3suite.retries``: what a testcase's current attempt holds, what a
fragment demands from admission, how one outcome changes a result. No
scheduling, no events, no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from e3suite.admission import LIGHT, Demand
from e3suite.executors.base import FragmentOutcome
from e3suite.model import Attempt, FailureReason, FragmentRecord, FragmentState, TestResult
from e3suite.plan import Fragment, PlannedTest
from e3suite.verdicts import AttemptState, Rules


@dataclass
class TestcaseState:
    """The engine's book-keeping for one testcase while it runs."""

    planned: PlannedTest
    rules: Rules
    attempts_allowed: int
    state: AttemptState
    remaining: int  # fragments not in a terminal state
    attempt: int = 1
    final: bool = True  # no retry left: failures propagate at once
    running: int = 0  # fragments handed to the executor
    done: bool = False
    run_time: float = 0.0
    records: list[FragmentRecord] = field(default_factory=list)
    # (fragment, outcome) of the fragments that ended in this attempt, or were kept from one before
    contributions: list[tuple[Fragment, FragmentOutcome]] = field(default_factory=list)
    # fragments that ended while the attempt was failing: successors not released yet
    stalled: dict[int, list[int]] = field(default_factory=dict)
    previous: list[Attempt] = field(default_factory=list)  # attempts that failed
    attempt_start: float | None = None
    pending_retry: tuple[AttemptState, list[int]] | None = None  # the failed attempt, the fragments to rerun
    #: why the next attempt never came: a stop during its delay, --max-retries-total ("attempt 2 of 3 not run: ...")
    retry_dropped: str | None = None

    def drop_next_attempt(self, not_run: str) -> None:
        """Its next attempt will not run, for ``not_run`` (``"not run: ..."``): its verdict will say so."""
        self.retry_dropped = f"attempt {self.attempt + 1} of {self.attempts_allowed} {not_run}"


def demand_of(fragment: Fragment, planned: PlannedTest) -> Demand:
    """What a fragment holds while it runs: its own declaration, else its testcase's test.yaml keys."""
    spec, env = fragment.spec, planned.case.test_env
    if spec is None:
        return LIGHT
    resources = spec.resources if spec.resources is not None else env.get("resources") or {}
    locks = spec.locks if spec.locks is not None else tuple(env.get("locks") or ())
    slots = spec.slots if spec.slots is not None else env.get("slots", 1)
    serial = spec.serial if spec.serial is not None else env.get("serial", False)
    if not resources and not locks and slots == 1 and not serial:
        return LIGHT
    return Demand(
        int(slots) if isinstance(slots, int) and slots >= 1 else 1,
        tuple(sorted((str(k), int(v)) for k, v in dict(resources).items())),
        tuple(sorted({str(lock) for lock in locks})),
        bool(serial),
    )


def fresh_result(planned: PlannedTest) -> TestResult:
    """A testcase's result before its fragments ran: the warnings of its test.yaml head its log."""
    result = TestResult(planned.test_id)
    result.log = "".join(f"warning: {warning}\n" for warning in planned.case.warnings)
    return result


def merge_outcome(state: AttemptState, fragment: Fragment, outcome: FragmentOutcome) -> None:
    """Fold what one fragment reported into its testcase's attempt."""
    result, delta = state.result, outcome.delta
    if delta.log:
        result.log += delta.log
    result.failure_reasons.update(delta.failure_reasons)
    result.info.update(delta.info)
    result.processes.extend(delta.processes)
    result.sub_results.extend(delta.sub_results)
    for name in ("out", "expected", "diff"):
        value = getattr(delta, name)
        if value is not None:
            setattr(result, name, value)
    for call in delta.verdicts:
        if state.verdict_by is None:
            state.verdict_by = fragment.fragment_id
            result.status, result.message = call.status, call.message
        elif state.error is None:
            state.error = (
                f"verdict set twice: {result.status.value if result.status else '?'} by "
                f"{state.verdict_by}, then {call.status.value} by {fragment.fragment_id}"
            )
    if outcome.state is FragmentState.FAILED and state.error is None:
        state.error = outcome.error or f"{fragment.fragment_id} failed"
    elif outcome.state is FragmentState.TIMEDOUT and state.timeout is None:
        state.timeout = outcome.error or "timed out"
        result.failure_reasons.add(FailureReason.TIMEOUT)
    elif outcome.state is FragmentState.ABORTED:
        state.aborted = True
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
