"""Deciding a testcase's verdict: pure functions of what its attempts left.

The engine keeps, for the attempt under way, what its fragments reported
(an ``AttemptState``) and, for a testcase tried again, the verdicts of the
attempts before. Deciding is a function of those and of the testcase's
fixed rules (a verdict decided before running, an expected failure, the
leak policy): no I/O, no clock, no engine state. Committing the verdict
(record, counts, listeners) is the engine's next, separate step, so an
attempt that will be retried never reaches a report as final.

Verdict rules (docs/index.md, "Verdict rules"), in order: an error
(raising callback, worker death, planning error) gives ERROR; a timeout
FAIL; an interruption ERROR "interrupted"; a verdict decided before
running stands; otherwise the verdict the fragments set, or SKIP when a
dependency did not let it run, or ERROR "no verdict". A leak under
``--leak-result fail`` turns a pass into FAIL; an expected failure turns
FAIL into XFAIL and PASS into XPASS. Over attempts: a failure followed by
a pass is FLAKY; a testcase whose every attempt failed keeps the last
attempt's verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from e3suite.model import Attempt, FailureReason, TestResult, TestStatus

INTERRUPTED = "interrupted"
LEAK_FAILS = "left processes running (--leak-result fail)"


@dataclass(frozen=True)
class Rules:
    """What is fixed for a testcase before it runs."""

    decided: tuple[TestStatus, str] | None = None  # e.g. SKIP by a control condition
    expected_failure: str | None = None  # XFAIL control: the message, "" for none
    leak_fails: bool = False  # --leak-result fail


@dataclass
class AttemptState:
    """What the fragments of one attempt reported, merged."""

    result: TestResult
    verdict_by: str | None = None  # the fragment that called set_status
    error: str | None = None
    timeout: str | None = None
    aborted: bool = False
    skip_message: str | None = None
    failed: set[int] = field(default_factory=set)  # fragments that failed in this attempt

    @property
    def failing(self) -> bool:
        """True when dependants of this testcase's fragments must not run (when="success")."""
        status = self.result.status
        return (
            self.error is not None
            or self.timeout is not None
            or self.aborted
            or (status is not None and status.is_failure)
        )


def attempt_verdict(state: AttemptState, rules: Rules) -> tuple[TestStatus, str]:
    """The verdict of one attempt, as if it were the last."""
    result = state.result
    if state.error is not None:
        status, message = TestStatus.ERROR, state.error
    elif state.timeout is not None:
        status, message = TestStatus.FAIL, state.timeout
    elif state.aborted:
        status, message = TestStatus.ERROR, INTERRUPTED
    elif rules.decided is not None:
        status, message = rules.decided
    elif result.status is not None:
        status, message = result.status, result.message
    elif state.skip_message is not None:
        status, message = TestStatus.SKIP, state.skip_message
    else:
        status, message = TestStatus.ERROR, "no verdict"
    if (
        rules.leak_fails
        and FailureReason.LEAK in result.failure_reasons
        and not (status.is_failure or status.is_skip)
    ):
        status = TestStatus.FAIL
        message = f"{LEAK_FAILS}; {message}" if message else LEAK_FAILS
    if rules.expected_failure is not None and status in (TestStatus.PASS, TestStatus.FAIL):
        failed = status is TestStatus.FAIL
        status = TestStatus.XFAIL if failed else TestStatus.XPASS
        reason = f"expected failure: {rules.expected_failure}" if rules.expected_failure else "expected failure"
        message = f"{reason} ({message})" if message else reason
    return status, message


def retryable(state: AttemptState, verdict: tuple[TestStatus, str]) -> bool:
    """Whether an attempt that ended with ``verdict`` may be tried again.

    What failed may be retried (a FAIL or ERROR verdict, a timeout, a worker
    that died, a callback that raised); an interruption never is, and
    neither is a testcase that could not run at all (nothing failed in it).
    """
    return verdict[0].is_failure and not state.aborted and bool(state.failed)


def final_verdict(last: tuple[TestStatus, str], previous: list[Attempt]) -> tuple[TestStatus, str]:
    """The testcase's verdict from its last attempt's and the failed ones before.

    A pass after failures is FLAKY (the message stays the passing attempt's);
    otherwise the last attempt's verdict stands, whatever came before.
    """
    status, message = last
    if previous and status.is_pass:
        return TestStatus.FLAKY, message
    return status, message
