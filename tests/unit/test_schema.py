"""test.yaml validation: common keys, driver schemas, messages with key paths."""

from __future__ import annotations

from typing import Any

import pytest

from e3suite.schema import validate

DRIVER = {
    "properties": {
        "cmd": {"type": ["string", "array"]},
        "status": {"type": "integer"},
    },
    "required": ["cmd"],
}


@pytest.mark.parametrize(
    ("test_env", "message"),
    [
        ({"cmd": "x", "timout": 3}, "unknown key 'timout': did you mean 'timeout'?"),
        ({"cmd": "x", "stauts": 1}, "unknown key 'stauts': did you mean 'status'?"),
        ({"cmd": "x", "zzz": 1}, "unknown key 'zzz' (known keys: cmd, control, description, driver, matrix, "
         "status, timeout)"),
        ({"cmd": "x", "timeout": "a"}, "key 'timeout': expected number, got string 'a'"),
        ({"cmd": "x", "timeout": 0}, "key 'timeout': expected a number greater than 0, got 0"),
        ({"status": 1}, "missing required key 'cmd'"),
        ({"cmd": 3}, "key 'cmd': expected string or list, got integer 3"),
        ({"cmd": "x", "control": [["SKP", "x"]]}, "key 'control[0][0]': expected one of NONE, SKIP, XFAIL, got 'SKP'"),
        ({"cmd": "x", "control": [["SKIP"]]}, "key 'control[0]': expected at least 2 item(s), got ['SKIP']"),
        ({"cmd": "x", "matrix": {"opt": "O0"}}, "key 'matrix.opt': expected list, got string 'O0'"),
        ({"cmd": "x", "description": ["a"]}, "key 'description': expected string, got list ['a']"),
    ],
)
def test_violations(test_env: dict[str, Any], message: str) -> None:
    assert validate(test_env, DRIVER) == message


def test_valid() -> None:
    env = {
        "cmd": ["echo", 1],
        "status": 0,
        "timeout": 0.5,
        "control": [["SKIP", "env.host.os.name == 'windows'", "no"]],
        "matrix": {"opt": ["O0", "O2"], "exclude": [{"opt": "O2"}]},
        "description": "d",
        "driver": "shell",
    }
    assert validate(env, DRIVER) is None


def test_a_driver_without_properties_accepts_extra_keys() -> None:
    # It did not say what it reads: only the common keys are checked.
    assert validate({"fragments": [], "anything": 1}, {}) is None
    assert validate({"timeout": "x"}, {}) == "key 'timeout': expected number, got string 'x'"


def test_a_driver_may_leave_its_schema_open() -> None:
    assert validate({"extra": 1, "cmd": "x"}, {**DRIVER, "additionalProperties": True}) is None
