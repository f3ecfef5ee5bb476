"""test.yaml validation: common keys, driver schemas, messages with key paths."""

from __future__ import annotations

from typing import Any

import pytest

from e3suite.schema import typo_warnings, validate

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
        ({"cmd": "x", "zzz": 1}, "unknown key 'zzz' (known keys: cmd, control, description, driver, locks, matrix, "
         "requires, resources, retries, serial, slots, status, timeout)"),
        ({"cmd": "x", "timeout": "a"}, "key 'timeout': expected number, got string 'a'"),
        ({"cmd": "x", "timeout": 0}, "key 'timeout': expected a number greater than 0, got 0"),
        ({"status": 1}, "missing required key 'cmd'"),
        ({"cmd": 3}, "key 'cmd': expected string or list, got integer 3"),
        ({"cmd": "x", "control": [["SKP", "x"]]}, "key 'control[0][0]': expected one of NONE, SKIP, XFAIL, got 'SKP'"),
        ({"cmd": "x", "control": [["SKIP"]]}, "key 'control[0]': expected at least 2 item(s), got ['SKIP']"),
        # One entry without the list around it (it said "key 'control[1]': expected list, got string 'x'").
        ({"cmd": "x", "control": ["SKIP", "x"]},
         "key 'control': expected a list of [KIND, condition] entries, got the entry ['SKIP', 'x'] alone: "
         "write [['SKIP', 'x']]"),
        ({"cmd": "x", "control": ["XFAIL", "x", "why"]},
         "key 'control': expected a list of [KIND, condition] entries, got the entry ['XFAIL', 'x', 'why'] alone: "
         "write [['XFAIL', 'x', 'why']]"),
        ({"cmd": "x", "control": ["x", "SKIP"]}, "key 'control[1]': expected list, got string 'SKIP'"),
        ({"cmd": "x", "matrix": {"opt": "O0"}}, "key 'matrix.opt': expected list, got string 'O0'"),
        ({"cmd": "x", "description": ["a"]}, "key 'description': expected string, got list ['a']"),
        # YAML's .inf and .nan are numbers to jsonschema, and NaN passes every bound
        ({"cmd": "x", "timeout": float("inf")}, "key 'timeout': expected a finite number, got .inf"),
        ({"cmd": "x", "timeout": float("nan")}, "key 'timeout': expected a finite number, got .nan"),
        # YAML 1.1 reads 1e9 as a string
        ({"cmd": "x", "timeout": "1e9"},
         "key 'timeout': expected number, got string '1e9' (YAML reads 1e9 as a string: write 1.0e+9 or 1000000000)"),
        ({"cmd": "x", "status": "1e3"},
         "key 'status': expected integer, got string '1e3' (YAML reads 1e3 as a string: write 1.0e+3 or 1000)"),
        ({"cmd": "x", "timeout": "2.5e-3"}, "key 'timeout': expected number, got string '2.5e-3'"),
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


def test_the_stock_cmd_key_is_explained_in_words() -> None:
    from e3suite.drivers import ShellDriver

    shell = ShellDriver.test_yaml_schema
    # jsonschema alone says "42 is not valid under any of the given schemas"
    assert validate({"cmd": 42}, shell) == "key 'cmd': expected string or list, got integer 42"
    assert validate({"cmd": ""}, shell) == "key 'cmd': expected at least 1 character(s), got ''"
    assert validate({"cmd": "x", "timeout": float("nan")}, {}) == "key 'timeout': expected a finite number, got .nan"


def test_a_driver_without_properties_accepts_extra_keys() -> None:
    # It did not say what it reads: only the common keys are checked.
    assert validate({"fragments": [], "anything": 1}, {}) is None
    assert validate({"timeout": "x"}, {}) == "key 'timeout': expected number, got string 'x'"


def test_a_driver_may_leave_its_schema_open() -> None:
    assert validate({"extra": 1, "cmd": "x"}, {**DRIVER, "additionalProperties": True}) is None


@pytest.mark.parametrize(
    ("test_env", "suggestion"),
    [
        ({"timout": 5}, "timeout"),
        ({"contrl": []}, "control"),
        ({"drivr": "x"}, "driver"),
        ({"matirx": {}}, "matrix"),
        ({"descripton": "x"}, "description"),
        ({"Timeout": 5}, "timeout"),
    ],
)
def test_an_open_schema_warns_of_keys_close_to_a_common_key(test_env: dict[str, Any], suggestion: str) -> None:
    key = next(iter(test_env))
    expected = [f"key {key!r} is not a key e3suite or the driver declares: did you mean {suggestion!r}?"]
    assert validate(test_env, {}) is None  # accepted: the driver may read it
    assert typo_warnings(test_env, {}) == expected
    assert typo_warnings(test_env, {**DRIVER, "additionalProperties": True}) == expected


def test_typo_warnings_spare_other_keys_and_closed_schemas() -> None:
    assert typo_warnings({"timeout": 1, "fragments": [], "env": {}, "timeouts_file": "x", "expect": 1}, {}) == []
    # A closed schema refuses the key outright (validate's job): no warning on top.
    assert typo_warnings({"timout": 5}, DRIVER) == []
    # An open schema's own declared keys are known too.
    warned = typo_warnings({"cmdd": "x"}, {**DRIVER, "additionalProperties": True})
    assert warned == ["key 'cmdd' is not a key e3suite or the driver declares: did you mean 'cmd'?"]


# -- the fast check agrees with jsonschema wherever it answers -----------------

_VALUES: list[Any] = [
    None, True, False, 0, 1, 2, -1, 1.0, 1.5, 0.0, "", "x", "NONE", "SKIP", "1", [], [1], ["x"], ["x", 1, True, None],
    [["SKIP", "c"]], [["XFAIL", "c", "m"]], [["SKIP"]], [["NOPE", "c"]], [["SKIP", 1]], [["SKIP", "c", "m", "z"]],
    {}, {"a": 1}, {"a": ["x"]}, {"a": []}, {"a": ["x", {"y": 1}]}, {"exclude": [{"a": "x"}]}, {"exclude": [{}]},
    [{"substring": "a", "replace": "b"}], [{"regex": "a", "path": "b"}], [{"path": "working_dir"}], [{}],
    [{"substring": ""}], [{"substring": "a", "line_by_line": "yes"}], [{"substring": "a", "other": 1}],
]


def _instances() -> list[dict[str, Any]]:
    from e3suite.drivers.diff import DiffDriver
    from e3suite.schema import full_schema

    keys = sorted(full_schema(DiffDriver.test_yaml_schema)["properties"])
    return [{"cmd": "x", key: value} for key in keys for value in _VALUES] + [{key: "x"} for key in keys]


@pytest.mark.parametrize("driver", ["ShellDriver", "DiffDriver", "open", "DRIVER"])
def test_fast_check_never_contradicts_jsonschema(driver: str) -> None:
    """Where the fast check answers (True or False), jsonschema gives the same answer."""
    import jsonschema

    import e3suite.drivers as drivers
    from e3suite.schema import fast_check, full_schema

    schemas = {"DRIVER": DRIVER, "open": {}}
    driver_schema = schemas[driver] if driver in schemas else getattr(drivers, driver).test_yaml_schema
    schema = full_schema(driver_schema)
    validator = jsonschema.Draft202012Validator(schema)
    answered = 0
    for instance in _instances():
        fast = fast_check(schema, instance)
        if fast is not None:
            answered += 1
            assert fast == validator.is_valid(instance), instance
    assert answered > len(_instances()) * 0.9  # it does answer for plain test.yaml files


def test_a_valid_test_yaml_is_checked_without_importing_jsonschema() -> None:
    import subprocess
    import sys

    script = (
        "import sys; from e3suite.schema import validate; from e3suite.drivers import DiffDriver;"
        "assert validate({'cmd': ['echo', 'a'], 'timeout': 2.5, 'control': [['SKIP', 'False']],"
        " 'refiners': [{'regex': 'a+', 'replace': 'b'}], 'env': {'A': 1}}, DiffDriver.test_yaml_schema) is None;"
        "print('jsonschema' in sys.modules);"
        "print(validate({'cmd': 'x', 'timeout': -1}, DiffDriver.test_yaml_schema))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out == "False\nkey 'timeout': expected a number greater than 0, got -1\n"


# -- a driver's schema that is itself invalid ----------------------------------


@pytest.mark.parametrize(
    ("driver_schema", "message"),
    [
        ({"properties": {"x": {"type": "intger"}}},
         "at ['properties']['x']['type']: 'intger' is not valid under any of the given schemas"),
        ({"properties": {"x": 3}}, "at ['properties']['x']: 3 is not of type 'object', 'boolean'"),
        ({"properties": ["x"]}, "'properties' must map each key to its schema, got list ['x']"),
        ({"properties": {"x": {}}, "required": "x"}, "'required' must be a list of key names, got string 'x'"),
        ({"properties": {"x": {"minItems": -1}}},
         "at ['properties']['x']['minItems']: -1 is less than the minimum of 0"),
        ({"properties": {"x": {"type": "string", "pattern": "["}}},
         "at ['properties']['x']['pattern']: '[' is not a 'regex'"),
        ([], "expected a mapping (a JSON Schema object), got list []"),
    ],
)
def test_an_invalid_driver_schema_is_named(driver_schema: Any, message: str) -> None:
    from e3suite.schema import driver_schema_problem

    assert driver_schema_problem(driver_schema) == message


def test_valid_driver_schemas_are_accepted() -> None:
    from e3suite.drivers import DiffDriver, ShellDriver
    from e3suite.schema import driver_schema_problem

    for driver_schema in ({}, DRIVER, ShellDriver.test_yaml_schema, DiffDriver.test_yaml_schema,
                          {"properties": {"x": {"type": "string", "format": "uri"}}, "additionalProperties": True}):
        assert driver_schema_problem(driver_schema) is None


def test_an_invalid_driver_schema_makes_its_testcases_error_whatever_they_hold(tmp_path: Any) -> None:
    """Each testcase of that driver ERRORs with the reason (not an internal error when one uses the key)."""
    from e3suite.discovery import load_testcases
    from e3suite.driver import TestDriver

    class Typo(TestDriver):
        test_yaml_schema = {"properties": {"x": {"type": "intger"}}}

    for name, text in (("uses", "driver: typo\nx: 1\n"), ("does-not", "driver: typo\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "test.yaml").write_text(text)
        [case] = load_testcases(name, tmp_path / name, {"typo": Typo}, None)
        assert case.error == (
            "driver Typo: invalid test_yaml_schema: at ['properties']['x']['type']: "
            "'intger' is not valid under any of the given schemas"
        )


def test_checking_a_stock_driver_schema_does_not_import_jsonschema() -> None:
    import subprocess
    import sys

    script = (
        "import sys; from e3suite.schema import driver_schema_problem; from e3suite.drivers import DiffDriver;"
        "assert driver_schema_problem(DiffDriver.test_yaml_schema) is None;"
        "print('jsonschema' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out == "False\n"
