"""Unit tests of e3suite.model: verdict classes, deltas, JSON round trip."""

from __future__ import annotations

import pytest

from e3suite.model import FailureReason, FragmentState, TestResult, TestStatus, summary_counts


def test_summary_counts_follow_the_documented_classes() -> None:
    statuses = list(TestStatus)
    assert summary_counts(statuses) == (5, 2, 2)
    assert {s for s in TestStatus if s.is_pass} == {
        TestStatus.PASS, TestStatus.XPASS, TestStatus.XFAIL, TestStatus.VERIFY, TestStatus.FLAKY,
    }
    assert {s for s in TestStatus if s.is_failure} == {TestStatus.FAIL, TestStatus.ERROR}
    assert {s for s in TestStatus if s.is_skip} == {TestStatus.SKIP, TestStatus.NOT_APPLICABLE}


def test_flaky_counts_as_failed_when_the_run_says_so() -> None:
    from e3suite.model import count_flaky_as

    try:
        count_flaky_as("failed")
        assert TestStatus.FLAKY.is_failure and not TestStatus.FLAKY.is_pass
        assert summary_counts(list(TestStatus)) == (4, 3, 2)
    finally:
        count_flaky_as("passed")
    assert TestStatus.FLAKY.is_pass


def test_terminal_states() -> None:
    assert not FragmentState.RUNNING.is_terminal
    assert FragmentState.SKIPPED.is_terminal and FragmentState.TIMEDOUT.is_terminal


def test_set_status_rejects_strings() -> None:
    with pytest.raises(TypeError, match="TestStatus"):
        TestResult("a").set_status("PASS")  # type: ignore[arg-type]


def test_delta_holds_only_what_the_fragment_added() -> None:
    result = TestResult("a/b", log="before\n", info={"kept": 1})
    copy = result.working_copy()
    mark = copy.mark()
    copy.log += "during\n"
    copy.info["new"] = [1, 2]
    copy.failure_reasons.add(FailureReason.DIFF)
    copy.set_status(TestStatus.FAIL, "wrong")
    copy.diff = "-a\n+b\n"
    delta = copy.delta_since(mark)
    assert delta.log == "during\n"
    assert delta.info == {"new": [1, 2]}
    assert delta.failure_reasons == [FailureReason.DIFF]
    assert [(v.status, v.message) for v in delta.verdicts] == [(TestStatus.FAIL, "wrong")]
    assert delta.diff == "-a\n+b\n" and delta.out is None
    # The engine's copy is untouched.
    assert result.log == "before\n" and result.status is None


def test_json_round_trip() -> None:
    result = TestResult("x[opt=O2]", TestStatus.XFAIL, "expected", log="l", failure_reasons={FailureReason.CRASH},
                        info={"k": "v"}, duration=1.5)
    back = TestResult.from_json(result.to_json())
    assert back.to_json() == result.to_json()
