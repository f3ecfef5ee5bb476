"""Control conditions: the expression language, its sandbox, and the decision."""

from __future__ import annotations

import argparse

import pytest

from e3suite.control import ConditionError, ControlKind, decide, default_names, evaluate


@pytest.fixture(scope="module")
def names() -> dict[str, object]:
    return default_names(argparse.Namespace(jobs=4, mode="fast"), {"facts": {"gpu": False, "ver": 3}})


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("env.host.os.name == 'linux'", True),
        ("env.build.cpu.bits == 64", True),
        ("env.host.os.name != 'linux' or options.jobs >= 4", True),
        ("not facts.gpu and facts.ver in (1, 2, 3)", True),
        ("options.mode in ['slow', 'debug']", False),
        ("facts['ver'] > 2", True),
        ("1 < facts.ver < 3", False),
        ("facts.ver is not None", True),
        ("-1 < 0", True),
        # short-circuit: the right side would be an error
        ("False and facts.missing", False),
    ],
)
def test_conditions(condition: str, expected: bool, names: dict[str, object]) -> None:
    assert bool(evaluate(condition, names)) is expected


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("__import__('os').system('true')", "not allowed in conditions: function calls"),
        ("env.__class__", "private attribute '__class__' is not allowed"),
        ("options._get_args", "private attribute '_get_args'"),
        ("facts.ver + 1 > 0", "not allowed in conditions: arithmetic"),
        ("[x for x in facts]", "comprehensions"),
        ("lambda: 1", "lambdas"),
        ("(x := 1)", "assignments"),
        ("facts[facts]", "only constant subscripts"),
        ("foo == 1", "unknown name 'foo' (known: env, facts, options)"),
        ("env.host.os.nme", "OS object has no attribute 'nme': did you mean 'name'?"),
        ("options.jbos", "Namespace object has no attribute 'jbos': did you mean 'jobs'?"),
        ("options.zzzzzz", "Namespace object has no attribute 'zzzzzz'"),
        ("facts.cpu", "no key 'cpu' (known: gpu, ver)"),
        ("env.host.os.name ==", "invalid syntax"),
        ("options.mode < 3", "cannot compare 'fast' and 3"),
    ],
)
def test_rejected_conditions(condition: str, message: str, names: dict[str, object]) -> None:
    with pytest.raises(ConditionError, match=None) as info:
        evaluate(condition, names)
    assert message in str(info.value)


def test_methods_are_not_values(names: dict[str, object]) -> None:
    # A bound method could be called by nothing here, but refusing callables
    # keeps the sandbox obvious.
    with pytest.raises(ConditionError, match="is a method"):
        evaluate("env.to_dict", names)


def test_first_true_entry_wins(names: dict[str, object]) -> None:
    control = [
        ["NONE", "facts.ver == 1"],
        ["XFAIL", "facts.ver == 3", "known bug #12"],
        ["SKIP", "True", "never reached"],
    ]
    decision = decide(control, names)
    assert decision.kind is ControlKind.XFAIL
    assert decision.message == "known bug #12"


def test_no_true_entry_means_none(names: dict[str, object]) -> None:
    assert decide([["SKIP", "facts.gpu"]], names).kind is ControlKind.NONE


def test_a_bad_later_entry_is_reported_even_after_a_true_one(names: dict[str, object]) -> None:
    with pytest.raises(ConditionError) as info:
        decide([["SKIP", "True"], ["XFAIL", "open('/etc/passwd')"]], names)
    assert str(info.value) == (
        "control entry 2 (\"open('/etc/passwd')\"): not allowed in conditions: function calls"
    )


@pytest.mark.parametrize(
    ("control", "message"),
    [
        ("SKIP", "control must be a list"),
        ([["SKIP"]], "control entry 1: expected [KIND, condition]"),
        ([["MAYBE", "True"]], "control entry 1: unknown kind 'MAYBE' (known: NONE, SKIP, XFAIL)"),
        ([["SKIP", True]], "control entry 1: the condition must be a string"),
    ],
)
def test_bad_entries(control: object, message: str, names: dict[str, object]) -> None:
    with pytest.raises(ConditionError) as info:
        decide(control, names)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "condition",
    [
        "not " * 1000 + "facts.gpu",  # the parser copes; a recursive evaluator would not
        "not " * 20000 + "facts.gpu",  # the parser itself gives up (MemoryError)
        "[" * 60 + "1" + "]" * 60,
    ],
    ids=["1000-not", "20000-not", "60-lists"],
)
def test_deep_nesting_is_refused_not_a_recursion_error(condition: str, names: dict[str, object]) -> None:
    with pytest.raises(ConditionError) as info:
        decide([["SKIP", condition]], names)
    message = str(info.value)
    assert "nested too deeply (at most 50 levels)" in message or "too many nested parentheses" in message
    assert len(message) < 200  # the condition is quoted shortened


def test_nesting_within_the_bound_is_evaluated(names: dict[str, object]) -> None:
    assert evaluate("not " * 41 + "facts.gpu", names) is True
