"""Unit tests of e3suite.engine: the verdict rules (promise 1), in-process."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from e3suite.discovery import Testcase
from e3suite.driver import FragmentContext, TestDriver
from e3suite.engine import Engine
from e3suite.executors.inprocess import InProcessExecutor
from e3suite.model import TestResult, TestStatus
from e3suite.plan import build_plan
from e3suite.store import ResultsWriter, load_run


class Scripted(TestDriver):
    """test_env: {fragment: {"after": [...], "do": [actions]}}."""

    def add_fragments(self) -> None:
        for name, spec in self.test_env.items():
            self.add_fragment(name, self.step, after=spec.get("after", []))

    def step(self, ctx: FragmentContext) -> Any:
        name = ctx.fragment_id.rsplit(":", 1)[1]
        value = None
        for action in self.test_env[name].get("do", []):
            kind, _, arg = action.partition(" ")
            if kind == "raise":
                raise RuntimeError(arg)
            if kind == "interrupt":
                raise KeyboardInterrupt
            if kind == "status":
                ctx.result.set_status(TestStatus[arg], f"from {name}")
            if kind == "return":
                value = arg
            if kind == "record":
                ctx.result.info["previous"] = dict(ctx.previous)
        return value


def run(tmp_path: Path, tests: dict[str, dict[str, Any]], jobs: int = 2, **options: Any) -> dict[str, TestResult]:
    cases = [Testcase(test_id, tmp_path, env, Scripted) for test_id, env in tests.items()]
    ns = argparse.Namespace(**options)
    plan = build_plan(cases, ns, tmp_path / "work")
    writer = ResultsWriter(tmp_path / "results")
    results = Engine(plan, InProcessExecutor(jobs), writer, ns).run()
    writer.close()
    assert len(results) == len(tests)  # exactly one verdict per testcase
    return {r.test_id: r for r in results}


def verdicts(results: dict[str, TestResult]) -> dict[str, tuple[str, str]]:
    return {k: (r.status.value if r.status else "?", r.message) for k, r in results.items()}


def test_basic_verdict_rules(tmp_path: Path) -> None:
    results = run(tmp_path, {
        "pass": {"run": {"do": ["status PASS"]}},
        "raise": {"run": {"do": ["raise boom"]}},
        "silent": {"a": {}, "b": {"after": ["a"]}},
        "twice": {"a": {"do": ["status PASS"]}, "b": {"after": ["a"], "do": ["status FAIL"]}},
    })
    assert verdicts(results) == {
        "pass": ("PASS", "from run"),
        "raise": ("ERROR", "raise:run raised RuntimeError: boom"),
        "silent": ("ERROR", "no verdict"),
        "twice": ("ERROR", "verdict set twice: PASS by twice:a, then FAIL by twice:b"),
    }
    assert "Traceback" in results["raise"].log and "RuntimeError: boom" in results["raise"].log


def test_return_values_reach_dependants(tmp_path: Path) -> None:
    results = run(tmp_path, {
        "lib": {"build": {"do": ["return lib.a"]}, "check": {"after": ["build"], "do": ["status PASS"]}},
        "app": {"build": {"do": ["return app.o"]},
                "run": {"after": ["build", "lib:build"], "do": ["record", "status PASS"]}},
    })
    assert results["app"].info["previous"] == {"build": "app.o", "lib:build": "lib.a"}


def test_failed_predecessor_skips_dependants_transitively(tmp_path: Path) -> None:
    results = run(tmp_path, {
        "base": {"build": {"do": ["status FAIL"]}, "more": {"after": ["build"], "do": ["status PASS"]}},
        "mid": {"run": {"after": ["base:build"], "do": ["status PASS"]}},
        "leaf": {"run": {"after": ["mid:run"], "do": ["status PASS"]}},
        "other": {"run": {"do": ["status PASS"]}},
    })
    assert verdicts(results) == {
        "base": ("FAIL", "from build"),
        "mid": ("SKIP", "dependency base:build failed"),
        "leaf": ("SKIP", "dependency base:build failed"),
        "other": ("PASS", "from run"),
    }


def test_a_failure_is_told_before_the_dependants_it_skips(tmp_path: Path) -> None:
    """The terminal, the journal and the reports list verdicts as they are decided: the cause comes first."""
    cases = [
        Testcase("a", tmp_path, {"build": {"do": ["status FAIL"]}}, Scripted),
        Testcase("b", tmp_path, {"run": {"after": ["a:build"], "do": ["status PASS"]}}, Scripted),
        Testcase("c", tmp_path, {"run": {"after": ["b:run"], "do": ["status PASS"]}}, Scripted),
    ]
    ns = argparse.Namespace()
    writer = ResultsWriter(tmp_path / "results")
    engine = Engine(build_plan(cases, ns, tmp_path / "work"), InProcessExecutor(1), writer, ns)
    order = [r.test_id for r in engine.run()]
    writer.close()
    assert order == ["a", "b", "c"]


def test_failure_limit_skips_the_rest_under_their_own_ids(tmp_path: Path) -> None:
    tests = {f"t{i}": {"run": {"do": ["status FAIL"]}} for i in range(5)}
    results = run(tmp_path, tests, jobs=1, max_failures=2)
    statuses = [results[f"t{i}"].status for i in range(5)]
    assert statuses.count(TestStatus.FAIL) == 2
    assert all(r.message == "not run: failure limit reached" for r in results.values() if r.status is TestStatus.SKIP)
    assert statuses.count(TestStatus.SKIP) == 3


def test_results_are_journaled_and_indexed(tmp_path: Path) -> None:
    run(tmp_path, {"a": {"run": {"do": ["status PASS"]}}, "b/c": {"run": {"do": ["status FAIL"]}}})
    loaded = load_run(tmp_path / "results")  # no index written: rebuilt from the journal
    assert sorted((e["test"], e["status"]) for e in loaded.entries) == [("a", "PASS"), ("b/c", "FAIL")]


@pytest.mark.parametrize("jobs", [1, 2, 4])
def test_slots_are_unique_among_running_fragments(tmp_path: Path, jobs: int) -> None:
    results = run(tmp_path, {f"t{i}": {"run": {"do": ["status PASS"]}} for i in range(12)}, jobs=jobs)
    slots = [f.slot for r in results.values() for f in r.fragments]
    assert set(slots) <= set(range(jobs))


def test_a_testcases_warnings_head_its_log(tmp_path: Path) -> None:
    case = Testcase("t", tmp_path, {"run": {"do": ["status PASS"]}}, Scripted)
    case.warnings.append("test.yaml: key 'timout' ...: did you mean 'timeout'?")
    ns = argparse.Namespace()
    plan = build_plan([case], ns, tmp_path / "work")
    writer = ResultsWriter(tmp_path / "results")
    [result] = Engine(plan, InProcessExecutor(1), writer, ns).run()
    writer.close()
    assert result.log.startswith("warning: test.yaml: key 'timout' ...: did you mean 'timeout'?\n")


class WithSubResults(TestDriver):
    def add_fragments(self) -> None:
        self.add_fragment("run", self.run)

    def run(self, ctx: FragmentContext) -> None:
        ctx.result.add_sub_result("extra", TestStatus.FAIL, "bad", log="sub log\n")
        ctx.result.set_status(TestStatus.PASS)


@pytest.mark.parametrize("jobs", [1, 2])
def test_sub_results_are_results_of_their_own(tmp_path: Path, jobs: int) -> None:
    ns = argparse.Namespace()
    plan = build_plan([Testcase("t", tmp_path, {}, WithSubResults)], ns, tmp_path / "work")
    writer = ResultsWriter(tmp_path / "results")
    results = {r.test_id: r for r in Engine(plan, InProcessExecutor(jobs), writer, ns).run()}
    writer.close()
    assert {k: (r.status, r.message) for k, r in results.items()} == {
        "t": (TestStatus.PASS, ""), "t/extra": (TestStatus.FAIL, "bad"),
    }
    assert results["t/extra"].log == "sub log\n"
    assert [e["test"] for e in load_run(tmp_path / "results").entries] == ["t", "t/extra"]


class Build(TestDriver):
    def add_fragments(self) -> None:
        self.add_fragment("run", self.run, after=self.test_env.get("after", []))

    def run(self, ctx: FragmentContext) -> str:
        ctx.result.info["got"] = dict(ctx.previous)
        ctx.result.set_status(TestStatus.PASS)
        return f"{ctx.test_id} value"


class TakesBackOnce(InProcessExecutor):
    """Gives back the first submission of one fragment unstarted, as a worker's queue can."""

    def __init__(self, jobs: int, victim: str) -> None:
        super().__init__(jobs)
        self.victim = victim
        self.held: list[Any] = []

    def submit(self, task: Any) -> None:
        if task.fragment_id == self.victim and self.victim:
            self.victim = ""
            self.held.append(task)
            return
        super().submit(task)

    def take_back_queued(self) -> list[Any]:
        from e3suite.executors.base import FragmentOutcome
        from e3suite.model import FragmentState

        held, self.held = self.held, []
        return [FragmentOutcome(t.index, FragmentState.READY, 0, 0.0, 0.0, error="not started") for t in held]


def test_a_dependant_taken_back_and_sent_again_still_gets_its_predecessors_value(tmp_path: Path) -> None:
    cases = [
        Testcase("lib", tmp_path, {}, Build),
        Testcase("a", tmp_path, {"after": ["lib:run"]}, Build),
        Testcase("b", tmp_path, {"after": ["lib:run"]}, Build),
    ]
    ns = argparse.Namespace()
    plan = build_plan(cases, ns, tmp_path / "work")
    writer = ResultsWriter(tmp_path / "results")
    results = {r.test_id: r for r in Engine(plan, TakesBackOnce(2, "b:run"), writer, ns).run()}
    writer.close()
    assert results["a"].info["got"] == {"lib:run": "lib value"}
    assert results["b"].info["got"] == {"lib:run": "lib value"}


def test_a_callback_raising_keyboardinterrupt_in_a_slot_thread_is_its_error(tmp_path: Path) -> None:
    """--in-process -j2: only the main thread gets Ctrl-C; the callback's own was the end of its thread, and a hang."""
    import threading

    outcome: dict[str, dict[str, TestResult]] = {}
    runner = threading.Thread(target=lambda: outcome.update(results=run(tmp_path, {
        "stops": {"run": {"do": ["interrupt"]}}, "other": {"run": {"do": ["status PASS"]}},
    })), daemon=True)
    runner.start()
    runner.join(60)
    assert not runner.is_alive(), "the run hung"
    assert verdicts(outcome["results"]) == {
        "stops": ("ERROR", "stops:run raised KeyboardInterrupt"), "other": ("PASS", "from run"),
    }
