"""The compat layer's pure pieces behave as e3-testsuite 27.x's (differential tests).

Each case runs the same input through the real e3-testsuite (installed by
the test extra) and through ``e3suite.compat.e3testsuite``: result helpers,
refiners, diffs and test control must agree exactly.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("e3.testsuite") is None, reason="e3-testsuite 27.x is in the test extra"
)

SAMPLES = [b"", b"plain\n", b"tab\there\r\nback\\slash\x00\xff\n", bytes(range(256))]


@pytest.mark.parametrize("data", SAMPLES)
def test_binary_repr(data: bytes) -> None:
    from e3.testsuite.result import binary_repr as real

    from e3suite.compat.e3testsuite.result import binary_repr

    assert binary_repr(data) == real(data)


@pytest.mark.parametrize("lines,count", [(3, 2), (10, 2), (10, 0), (5, 3), (0, 1)])
def test_truncated(lines: int, count: int) -> None:
    from e3.testsuite.result import truncated as real

    from e3suite.compat.e3testsuite.result import truncated

    text = "".join(f"line {i}\n" for i in range(lines))
    assert truncated(text, count) == real(text, count)


def _refiners(module: Any) -> list[Any]:
    return [
        module.Substitute("foo", "bar"),
        module.Substitute("gone"),
        module.PatternSubstitute(r"\d+", "N"),
        module.PatternSubstitute(r"(a)(b)", lambda m: m.group(2) + m.group(1)),
        module.LineByLine(module.PatternSubstitute(r"^x.*$", "X")),
        module.CanonicalizeLineEndings(),
        module.ReplacePath(os.getcwd(), "<cwd>"),
        module.RefiningChain([module.Substitute("a", "b"), module.Substitute("b", "c")]),
    ]


@pytest.mark.parametrize("index", range(8))
def test_refiners(index: int) -> None:
    import e3.testsuite.driver.diff as real

    import e3suite.compat.e3testsuite.driver.diff as compat

    text = f"foo gone 12 ab\r\nxyz\nkeep x\n{os.getcwd()}/file\nab\n"
    assert _refiners(compat)[index].refine(text) == _refiners(real)[index].refine(text)


class _Driver:
    def __init__(self, control: Any, env: Any) -> None:
        self.test_env = {"control": control, "test_name": "t"}
        self.env = env

    def test_dir(self, *parts: str) -> str:
        return os.path.join("/nonexistent", *parts)


CONTROLS = [
    [["SKIP", "True", "why"]],
    [["XFAIL", "env.build.os.name == 'linux'", "known"], ["SKIP", "True"]],
    [["NONE", "False"], ["XFAIL", "1 + 1 == 2"]],
    [["NONE", "True"], ["SKIP", "True"]],
    "not a list",
    [["BOGUS", "True"]],
    [["SKIP", "undefined_name"]],
    [["SKIP"]],
]


@pytest.mark.parametrize("control", CONTROLS)
def test_yaml_control(control: Any) -> None:
    from e3.env import Env
    from e3.testsuite.control import YAMLTestControlCreator as Real

    from e3suite.compat.e3testsuite.control import YAMLTestControlCreator

    def outcome(creator: Any) -> Any:
        try:
            c = creator.create(_Driver(control, Env()))
        except ValueError as exc:
            return ("ValueError", str(exc))
        return (c.skip, c.xfail, c.message)

    assert outcome(YAMLTestControlCreator({"x": 1})) == outcome(Real({"x": 1}))


def test_status_and_reason_names() -> None:
    from e3.testsuite.result import FailureReason as RealReason
    from e3.testsuite.result import TestStatus as RealStatus

    from e3suite.compat.e3testsuite.result import FailureReason, TestStatus

    assert [s.name for s in TestStatus] == [s.name for s in RealStatus]
    assert [r.name for r in FailureReason] == [r.name for r in RealReason]


def test_set_status_only_once() -> None:
    from e3.testsuite.result import TestResult as Real
    from e3.testsuite.result import TestStatus as RealStatus

    from e3suite.compat.e3testsuite.result import TestResult, TestStatus

    ours, theirs = TestResult("t"), Real("t")
    ours.set_status(TestStatus.FAIL, "first\n  line two")
    theirs.set_status(RealStatus.FAIL, "first\n  line two")
    ours.set_status(TestStatus.PASS)
    theirs.set_status(RealStatus.PASS)
    assert (ours.status.name, ours.msg) == (theirs.status.name, theirs.msg)


def test_e3_given_a_directory_names_the_script_it_holds(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from e3suite.compat.e3testsuite.command import run_script

    assert run_script(str(tmp_path), []) == 2
    assert capsys.readouterr().err == f"e3suite e3: error: {tmp_path} is a directory, not a testsuite script\n"
    (tmp_path / "testsuite.py").write_text("")
    assert run_script(str(tmp_path), []) == 2
    assert capsys.readouterr().err == (
        f"e3suite e3: error: {tmp_path} is a directory, not a testsuite script "
        f"(did you mean {tmp_path}/testsuite.py?)\n"
    )
    assert run_script(str(tmp_path / "nope.py"), []) == 2
    assert capsys.readouterr().err == f"e3suite e3: error: {tmp_path}/nope.py: no such file\n"
