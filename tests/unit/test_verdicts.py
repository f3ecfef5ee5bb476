"""The decide step (attempts x dependency outcomes -> verdict), and the engine's attempts in-process."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from e3suite.discovery import Testcase
from e3suite.driver import FragmentContext, TestDriver
from e3suite.engine import Engine
from e3suite.events import AttemptFailed, EventBus, Sink
from e3suite.executors.inprocess import InProcessExecutor
from e3suite.model import Attempt, FailureReason, TestResult, TestStatus
from e3suite.plan import build_plan
from e3suite.store import ResultsWriter
from e3suite.verdicts import AttemptState, Rules, attempt_verdict, final_verdict, retryable

P, F, E = TestStatus.PASS, TestStatus.FAIL, TestStatus.ERROR


def state(status: TestStatus | None = None, message: str = "", **flags: Any) -> AttemptState:
    result = TestResult("t", status, message)
    failed = flags.pop("failed", {0})
    return AttemptState(result, failed=set(failed), **flags)


@pytest.mark.parametrize(
    ("attempt", "rules", "expected"),
    [
        (state(P, "ok"), Rules(), (P, "ok")),
        (state(F, "bad"), Rules(), (F, "bad")),
        (state(P, error="x:run raised KeyError"), Rules(), (E, "x:run raised KeyError")),
        (state(None, timeout="timed out after 1 s"), Rules(), (F, "timed out after 1 s")),
        (state(None, aborted=True), Rules(), (E, "interrupted")),
        (state(None, skip_message="dependency a:build failed"), Rules(), (TestStatus.SKIP, "dependency a:build failed")),
        (state(None), Rules(), (E, "no verdict")),
        (state(P), Rules(decided=(TestStatus.SKIP, "needs a GPU")), (TestStatus.SKIP, "needs a GPU")),
        (state(F, "wrong"), Rules(expected_failure="bug #1"), (TestStatus.XFAIL, "expected failure: bug #1 (wrong)")),
        (state(P), Rules(expected_failure=""), (TestStatus.XPASS, "expected failure")),
    ],
)
def test_attempt_verdict(attempt: AttemptState, rules: Rules, expected: tuple[TestStatus, str]) -> None:
    assert attempt_verdict(attempt, rules) == expected


def test_a_leak_fails_a_pass_only_when_asked() -> None:
    leaky = state(P, "ok")
    leaky.result.failure_reasons.add(FailureReason.LEAK)
    assert attempt_verdict(leaky, Rules()) == (P, "ok")
    assert attempt_verdict(leaky, Rules(leak_fails=True)) == (F, "left processes running (--leak-result fail); ok")


def test_what_may_be_retried() -> None:
    assert retryable(state(F), (F, ""))
    assert retryable(state(None, error="boom"), (E, "boom"))
    assert not retryable(state(P), (P, ""))
    assert not retryable(state(None, aborted=True), (E, "interrupted"))  # an interrupt never is
    assert not retryable(state(F, failed=set()), (F, ""))  # nothing of it failed: e.g. a planning error
    assert not retryable(state(F), (TestStatus.XFAIL, "expected failure"))


def attempt(number: int, status: TestStatus) -> Attempt:
    return Attempt(number, status, "", 0.1)


def test_final_verdict_over_attempts() -> None:
    assert final_verdict((P, "ok"), []) == (P, "ok")
    assert final_verdict((P, "ok"), [attempt(1, F)]) == (TestStatus.FLAKY, "ok")
    assert final_verdict((F, "bad"), [attempt(1, F), attempt(2, E)]) == (F, "bad")
    assert final_verdict((TestStatus.SKIP, "not run: interrupted"), [attempt(1, F)])[0] is TestStatus.SKIP


# -- the engine, in-process ------------------------------------------------------


class Flaky(TestDriver):
    """test_env: fails (attempts that fail), deps (after), always (a cleanup after run)."""

    def add_fragments(self) -> None:
        self.add_fragment("build", self.build)
        self.add_fragment("run", self.run, after=["build", *self.test_env.get("deps", [])])
        if self.test_env.get("always"):
            self.add_fragment("cleanup", self.cleanup, after=["run"], when="always")

    def build(self, ctx: FragmentContext) -> str:
        BUILDS.append(ctx.test_id)
        return f"{ctx.test_id} built"

    def run(self, ctx: FragmentContext) -> None:
        RUNS.append((ctx.test_id, ctx.attempt, dict(ctx.previous)))
        if self.test_env.get("raise"):
            raise RuntimeError("boom")
        if ctx.attempt <= self.test_env.get("fails", 0):
            ctx.result.set_status(F, f"attempt {ctx.attempt} failed")
        else:
            ctx.result.set_status(P, f"attempt {ctx.attempt} passed")

    def cleanup(self, ctx: FragmentContext) -> None:
        CLEANUPS.append((ctx.test_id, ctx.outcomes["run"].state.value, ctx.outcomes["run"].verdict))


BUILDS: list[str] = []
RUNS: list[tuple[str, int, dict[str, Any]]] = []
CLEANUPS: list[tuple[str, str, TestStatus | None]] = []


class Collect(Sink):
    def __init__(self) -> None:
        self.retries: list[AttemptFailed] = []

    def attempt_failed(self, event: AttemptFailed) -> None:
        self.retries.append(event)


def run_flaky(tmp_path: Path, tests: dict[str, dict[str, Any]], **options: Any) -> tuple[dict[str, TestResult], Collect]:
    BUILDS.clear()
    RUNS.clear()
    CLEANUPS.clear()
    cases = [Testcase(test_id, tmp_path, env, Flaky) for test_id, env in tests.items()]
    ns = argparse.Namespace(**options)
    plan = build_plan(cases, ns, tmp_path / "work")
    writer = ResultsWriter(tmp_path / "results")
    collect = Collect()
    results = Engine(plan, InProcessExecutor(1), EventBus([writer, collect]), ns).run()
    writer.close()
    assert len(results) == len(tests)
    return {r.test_id: r for r in results}, collect


def test_a_testcase_that_fails_then_passes_is_flaky(tmp_path: Path) -> None:
    results, collect = run_flaky(tmp_path, {"a": {"fails": 1}}, retries=2)
    a = results["a"]
    assert (a.status, a.message, a.attempts_note) == (TestStatus.FLAKY, "attempt 2 passed", "attempt 2 of 3 passed")
    assert [(x.number, x.status) for x in a.attempts] == [(1, F), (2, P)]
    # Only what failed ran again: the build once, its value still there.
    assert BUILDS == ["a"]
    assert RUNS == [("a", 1, {"build": "a built"}), ("a", 2, {"build": "a built"})]
    assert [(e.attempt, e.attempts, e.rerun) for e in collect.retries] == [(1, 3, ("a:run",))]


def test_one_that_keeps_failing_keeps_the_last_verdict_and_says_how_many_attempts(tmp_path: Path) -> None:
    results, _ = run_flaky(tmp_path, {"a": {"fails": 5}}, retries=2)
    a = results["a"]
    assert (a.status, a.message, a.attempts_note) == (F, "attempt 3 failed", "3 attempts")


def test_a_raising_callback_is_retried(tmp_path: Path) -> None:
    results, _ = run_flaky(tmp_path, {"a": {"raise": True}}, retries=1)
    assert results["a"].status is E and len(results["a"].attempts) == 2


def test_dependants_wait_for_the_last_attempt(tmp_path: Path) -> None:
    results, _ = run_flaky(tmp_path, {"lib": {"fails": 1}, "user": {"deps": ["lib:run"]}}, retries=1)
    assert results["lib"].status is TestStatus.FLAKY
    assert results["user"].status is P  # not skipped by lib's first attempt
    assert [r[0] for r in RUNS].count("user") == 1


def test_test_yaml_retries_wins_and_zero_means_never(tmp_path: Path) -> None:
    results, _ = run_flaky(tmp_path, {"a": {"fails": 1, "retries": 0}, "b": {"fails": 1}}, retries=3)
    assert results["a"].status is F and not results["a"].attempts
    assert results["b"].status is TestStatus.FLAKY


def test_the_drivers_default_applies_last(tmp_path: Path) -> None:
    class Retrying(Flaky):
        retries = 1

    cases = [Testcase("a", tmp_path, {"fails": 1}, Retrying)]
    ns = argparse.Namespace()
    plan = build_plan(cases, ns, tmp_path / "work")
    writer = ResultsWriter(tmp_path / "results")
    [result] = Engine(plan, InProcessExecutor(1), writer, ns).run()
    writer.close()
    assert result.status is TestStatus.FLAKY


def test_max_retries_total_caps_the_run(tmp_path: Path) -> None:
    tests = {f"t{i}": {"fails": 9} for i in range(5)}
    results, collect = run_flaky(tmp_path, tests, retries=3, max_retries_total=2)
    assert len(collect.retries) == 2
    # Those the cap kept from their next attempt say so: a plain FAIL hid that they had retries left.
    capped = [r for r in results.values() if "--max-retries-total" in r.message]
    assert capped and all(r.status is F for r in capped)
    assert all(r.message.endswith("not run: --max-retries-total 2 reached)") for r in capped), [r.message for r in capped]
    assert len(capped) == sum(1 for r in results.values() if not r.attempts or len(r.attempts) < 4)


def test_when_always_runs_after_a_failure_once_the_last_attempt_ended(tmp_path: Path) -> None:
    results, _ = run_flaky(tmp_path, {"a": {"fails": 9, "always": True}, "b": {"always": True}}, retries=1)
    assert results["a"].status is F
    assert sorted(CLEANUPS) == [("a", "COMPLETE", F), ("b", "COMPLETE", P)]


def test_without_retries_a_failure_spreads_at_once(tmp_path: Path) -> None:
    results, collect = run_flaky(tmp_path, {"lib": {"fails": 1}, "user": {"deps": ["lib:run"]}})
    assert results["user"].status is TestStatus.SKIP
    assert results["user"].message == "dependency lib:run failed"
    assert collect.retries == []


def test_an_interrupt_during_a_retry_delay_keeps_the_failed_attempt_as_it_was(tmp_path: Path) -> None:
    """Ctrl-C while a retry waits: the failed attempt is the last, each fragment listed once, as it ended."""
    BUILDS.clear()
    RUNS.clear()
    cases = [Testcase("a", tmp_path, {"fails": 9}, Flaky)]
    ns = argparse.Namespace(retries=2, retry_delay=60.0)
    plan = build_plan(cases, ns, tmp_path / "work")
    writer = ResultsWriter(tmp_path / "results")

    class CtrlC(Sink):
        def attempt_failed(self, event: AttemptFailed) -> None:
            engine.request_interrupt()

    engine = Engine(plan, InProcessExecutor(1), EventBus([writer, CtrlC()]), ns)
    [a] = engine.run()
    writer.close()
    # The RETRY line announced attempt 2: the verdict says why it never came.
    assert (a.status, a.message) == (F, "attempt 1 failed (attempt 2 of 3 not run: interrupted)")
    assert [(r.name, r.state.value) for r in a.fragments] == [("build", "COMPLETE"), ("run", "COMPLETE")]
    assert a.attempts == [] and a.attempts_note == ""
    assert RUNS == [("a", 1, {"build": "a built"})]


def test_exponential_backoff_survives_a_thousand_retries(tmp_path: Path) -> None:
    """2 ** 1024 times the delay was an OverflowError: an internal error at the 1025th retry."""
    results, collect = run_flaky(tmp_path, {"a": {"fails": 5000}}, retries=1100, retry_backoff="exponential")
    assert (results["a"].status, len(results["a"].attempts)) == (F, 1101)
    assert {e.delay for e in collect.retries} == {0.0}


def test_exponential_backoff_doubles_the_delay_at_each_retry(tmp_path: Path) -> None:
    _, collect = run_flaky(tmp_path, {"a": {"fails": 9}}, retries=3, retry_delay=0.01, retry_backoff="exponential")
    assert [e.delay for e in collect.retries] == [0.01, 0.02, 0.04]
