"""A control condition whose evaluation fails in Python is that testcase's ERROR, never the run's crash.

Before, ``{[1]}`` (a set of a list: ``matrix.v in {['a'], 'b'}`` is the
same) stopped the whole run before anything ran: a traceback, then
``e3suite: internal error: TypeError: unhashable type: 'list'``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from drivers_support import make_suite, run_suite

from e3suite.control import ConditionError, evaluate


class Touchy:
    @property
    def version(self) -> str:
        raise ValueError("no version here")


@pytest.mark.parametrize(("condition", "problem"), [
    ("{[1]}", "cannot make a set of [1]: unhashable type: 'list'"),
    ("{'a', matrix}", "cannot make a set of {}: unhashable type: 'dict'"),
    ("touchy.version == '1'", "ValueError: no version here"),
])
def test_a_failing_evaluation_is_a_condition_error(condition: str, problem: str) -> None:
    with pytest.raises(ConditionError) as info:
        evaluate(condition, {"matrix": {}, "touchy": Touchy()})
    assert str(info.value) == problem


def test_the_other_testcases_run(tmp_path: Path) -> None:
    root = make_suite(tmp_path, {
        "tests/bad/test.yaml": "driver: shell\ncmd: [true]\ncontrol: [[SKIP, \"{['a'], 'b'}\"]]\n",
        "tests/good/test.yaml": "driver: shell\ncmd: [true]\n",
    })
    run = run_suite(root, "-j1")
    assert run.code == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert run.results["good"]["status"] == "PASS"
    assert run.results["bad"]["status"] == "ERROR"
    assert run.results["bad"]["message"].endswith(
        "test.yaml: control entry 1 (\"{['a'], 'b'}\"): cannot make a set of ['a']: unhashable type: 'list'"
    )
