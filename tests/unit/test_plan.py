"""Unit tests of e3suite.plan: edges, pulled-in dependencies, cycles, priorities."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from e3suite.discovery import Testcase
from e3suite.driver import FragmentContext, TestDriver
from e3suite.plan import Plan, build_plan, topological_order


class Declared(TestDriver):
    """Declares the fragments listed in test_env["fragments"]: {name: [after...]}."""

    def add_fragments(self) -> None:
        for name, after in self.test_env["fragments"].items():
            self.add_fragment(name, self.noop, after=after)

    def noop(self, ctx: FragmentContext) -> None:
        pass


class Broken(TestDriver):
    def add_fragments(self) -> None:
        raise ValueError("cannot declare")


def case(test_id: str, **fragments: Any) -> Testcase:
    return Testcase(test_id, Path("/t") / test_id, {"fragments": fragments}, Declared)


def plan_of(*cases: Testcase, extra: dict[str, Testcase] | None = None) -> Plan:
    extra = extra or {}
    return build_plan(list(cases), argparse.Namespace(), Path("/w"), extra.get)


def edges(plan: Plan) -> set[tuple[str, str]]:
    return {(plan.fragments[p].fragment_id, f.fragment_id) for f in plan.fragments for p in f.preds}


def test_same_and_cross_testcase_edges() -> None:
    plan = plan_of(case("lib", build=[]), case("app", build=["lib:build"], run=["build"]))
    assert edges(plan) == {("lib:build", "app:build"), ("app:build", "app:run")}
    assert all(t.error is None for t in plan.tests.values())


def test_dependency_outside_the_selection_is_pulled_in() -> None:
    plan = plan_of(case("app", run=["lib:build"]), extra={"lib": case("lib", build=[])})
    assert list(plan.tests) == ["app", "lib"]
    assert plan.tests["lib"].selected is False
    assert ("lib:build", "app:run") in edges(plan)


def test_unknown_dependency_is_an_error_of_the_dependant_only() -> None:
    plan = plan_of(case("a", run=["b:nope"]), case("b", build=[]), case("c", run=["x/y:z"]))
    assert plan.tests["a"].error == "unknown dependency 'b:nope' of fragment a:run"
    assert plan.tests["c"].error == "unknown dependency 'x/y:z' of fragment c:run"
    assert plan.tests["b"].error is None


def test_cycle_is_spelled_edge_by_edge_and_only_its_testcases_fail() -> None:
    plan = plan_of(case("a", run=["b:run"]), case("b", run=["a:run"]), case("c", run=["a:run"]), case("d", run=[]))
    message = "dependency cycle: a:run after b:run after a:run"
    assert plan.tests["a"].error == message and plan.tests["b"].error == message
    assert plan.tests["c"].error is None and plan.tests["d"].error is None


def test_driver_exception_becomes_the_testcase_error() -> None:
    broken = Testcase("bad", Path("/t/bad"), {}, Broken)
    plan = plan_of(broken, case("ok", run=["bad:build"]))
    assert plan.tests["bad"].error is not None
    assert "failed to declare fragments: ValueError: cannot declare" in plan.tests["bad"].error
    assert "Traceback" in plan.tests["bad"].details
    # The dependant is not in error: it depends on a placeholder that will fail.
    assert plan.tests["ok"].error is None and ("bad:build", "ok:run") in edges(plan)


def test_priorities_follow_the_critical_path() -> None:
    plan = plan_of(case("long", a=[], b=["a"], c=["b"]), case("short", a=[]))
    priority = {f.fragment_id: f.priority for f in plan.fragments}
    assert priority["long:a"] > priority["long:b"] > priority["long:c"]
    assert priority["long:a"] > priority["short:a"]


def test_topological_order_is_linear_on_a_long_chain() -> None:
    steps = {f"s{i}": [f"s{i - 1}"] if i else [] for i in range(20_000)}
    plan = plan_of(case("chain", **steps))
    assert len(topological_order(plan.fragments)) == 20_000


class Timed(TestDriver):
    def add_fragments(self) -> None:
        self.add_fragment("run", self.noop, timeout=self.test_env["timeout"])

    def noop(self, ctx: FragmentContext) -> None:
        pass


def test_a_fragment_timeout_that_is_no_number_of_seconds_is_the_testcase_error() -> None:
    """``timeout="5"`` used to mean no timeout at all, and ``0`` or ``-1`` a FAIL "timed out after -1.0 s"."""
    values: dict[str, Any] = {
        "str": "5", "zero": 0, "neg": -1.0, "inf": float("inf"), "nan": float("nan"), "bool": True,
    }
    cases = [Testcase(k, Path("/t") / k, {"timeout": v}, Timed) for k, v in values.items()]
    cases.append(Testcase("ok", Path("/t/ok"), {"timeout": 0.5}, Timed))
    plan = plan_of(*cases)
    for key, value in values.items():
        error = plan.tests[key].error
        assert error is not None and f"fragment 'run': timeout={value!r}, expected a finite number" in error, key
    assert plan.tests["ok"].error is None


def test_an_after_that_names_no_fragment_is_the_error_of_its_testcase_only() -> None:
    """after=[1] (or None) used to stop the whole run with an AttributeError while planning edges."""
    plan = plan_of(
        case("ints", a=[], b=[1]), case("none", a=None), case("empty", a=[""]), case("fine", a=[]),
    )
    errors = {test_id: planned.error for test_id, planned in plan.tests.items()}
    expected = "expected strings, 'build' (this testcase) or 'other/test:build'"
    assert errors == {
        "ints": f"driver Declared failed to declare fragments: DriverError: fragment 'b': after=1 is no "
        f"fragment name: {expected}",
        "none": f"driver Declared failed to declare fragments: DriverError: fragment 'a': after=None is no "
        f"fragment name: {expected}",
        "empty": f"driver Declared failed to declare fragments: DriverError: fragment 'a': after='' is no "
        f"fragment name: {expected}",
        "fine": None,
    }


def test_a_fragment_name_that_is_no_string_is_refused() -> None:
    import pytest

    from e3suite.driver import DriverError

    driver = Declared("t", {}, Path("/t"), Path("/w"), argparse.Namespace())
    with pytest.raises(DriverError, match="invalid fragment name 3: it must be a non-empty string, without ':'"):
        driver.add_fragment(3, driver.noop)  # type: ignore[arg-type]
