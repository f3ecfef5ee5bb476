"""A refiner whose ``replace`` is no valid template names its test.yaml and its entry.

Before: ``ERROR  t: a refiner failed: invalid group reference 2 at position 1``,
with neither the file nor the entry (an invalid ``regex`` said both), and
``\\g<name>`` of an unknown group: ``a refiner failed: "unknown group name 'x'"``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from drivers_support import make_suite, run_suite

from e3suite.drivers.refiners import RefinerError, from_yaml


@pytest.mark.parametrize(("replace", "problem"), [
    ("\\2", "invalid group reference 2 at position 1"),
    ("\\g<x>", "unknown group name 'x'"),
    ("a\\", "bad escape (end of pattern) at position 1"),
])
def test_a_bad_replacement_is_refused_with_its_entry(replace: str, problem: str) -> None:
    with pytest.raises(RefinerError) as info:
        from_yaml([{"substring": "x"}, {"regex": "a", "replace": replace}], {})
    assert str(info.value) == f"refiner 2: invalid replace {replace!r} for regex 'a': {problem}"


def test_the_testcase_error_names_its_test_yaml(tmp_path: Path) -> None:
    yaml = "driver: diff\ncmd: [echo, a]\nrefiners: [{regex: a, replace: '\\2'}]\n"
    root = make_suite(tmp_path, {"tests/t/test.yaml": yaml})
    run = run_suite(root, "-j1")
    assert run.results["t"]["status"] == "ERROR"
    assert run.results["t"]["message"] == (
        f"{root}/tests/t/test.yaml: refiner 1: invalid replace '\\\\2' for regex 'a': "
        "invalid group reference 2 at position 1"
    )
