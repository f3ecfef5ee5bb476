"""Validation of test.yaml against the common keys and the driver's schema.

Every driver declares the keys it reads in ``test_yaml_schema`` (a JSON
Schema object with ``properties``, optionally ``required``); this module adds
the keys every testcase may use (``driver``, ``description``, ``timeout``,
``control``, ``matrix``) and validates with jsonschema. A driver that
declares no properties accepts any extra key (it did not say what it reads);
one that declares properties gets unknown keys rejected, with a suggestion
("unknown key 'timout': did you mean 'timeout'?").

Validation returns a one-line message naming the key path and what was
expected; it never raises for bad input. Validators are compiled once per
driver class. This module must never read files or run anything.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, cast

import jsonschema

#: The keys every test.yaml may hold, whatever its driver.
COMMON_PROPERTIES: dict[str, Any] = {
    "driver": {"type": "string", "description": "the test type: a key of the testsuite's test_driver_map"},
    "description": {"type": "string", "description": "one line saying what the testcase checks"},
    "timeout": {
        "type": "number",
        "exclusiveMinimum": 0,
        "description": "timeout of each fragment, in (fractional) seconds",
    },
    "control": {
        "type": "array",
        "description": "[KIND, condition] or [KIND, condition, message] entries, KIND in NONE, SKIP, XFAIL",
        "items": {
            "type": "array",
            "minItems": 2,
            "maxItems": 3,
            "prefixItems": [
                {"enum": ["NONE", "SKIP", "XFAIL"]},
                {"type": "string"},
                {"type": "string"},
            ],
        },
    },
    "matrix": {
        "type": "object",
        "description": "axis name -> list of values; 'exclude' lists combinations to drop",
        "minProperties": 1,
        "properties": {
            "exclude": {"type": "array", "items": {"type": "object", "minProperties": 1}},
        },
        "additionalProperties": {
            "type": "array",
            "minItems": 1,
            "items": {"type": ["string", "number", "boolean"]},
        },
    },
}

_validators: dict[int, tuple[Any, jsonschema.protocols.Validator, frozenset[str] | None]] = {}


def full_schema(driver_schema: dict[str, Any]) -> dict[str, Any]:
    """The schema a testcase of that driver is validated against."""
    properties = dict(COMMON_PROPERTIES)
    properties.update(driver_schema.get("properties") or {})
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if driver_schema.get("required"):
        schema["required"] = list(driver_schema["required"])
    closed = bool(driver_schema.get("properties")) and driver_schema.get("additionalProperties") is not True
    if closed:
        schema["additionalProperties"] = False
    for key in ("allOf", "anyOf", "oneOf", "dependentRequired", "if", "then", "else"):
        if key in driver_schema:
            schema[key] = driver_schema[key]
    return schema


def _validator(driver_schema: dict[str, Any]) -> tuple[jsonschema.protocols.Validator, frozenset[str] | None]:
    cached = _validators.get(id(driver_schema))
    if cached is not None and cached[0] is driver_schema:
        return cached[1], cached[2]
    schema = full_schema(driver_schema)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    validator = cls(schema)
    known = frozenset(schema["properties"]) if schema.get("additionalProperties") is False else None
    # Keep a reference to the schema: the cache is keyed by its id().
    _validators[id(driver_schema)] = (driver_schema, validator, known)
    return validator, known


def validate(test_env: dict[str, Any], driver_schema: dict[str, Any]) -> str | None:
    """None when ``test_env`` is valid, else a one-line message."""
    validator, known = _validator(driver_schema)
    if known is not None:
        for key in test_env:
            if key not in known:
                return unknown_key_message(str(key), known)
    errors = list(validator.iter_errors(test_env))
    if not errors:
        return None
    error = jsonschema.exceptions.best_match(errors)
    if error.validator == "required" and not error.absolute_path:
        missing = [k for k in error.validator_value if k not in test_env]
        return f"missing required key {missing[0]!r}" if missing else error.message
    return f"key {format_path(error.absolute_path)}: {_expectation(error)}"


def unknown_key_message(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    if close:
        return f"unknown key {key!r}: did you mean {close[0]!r}?"
    return f"unknown key {key!r} (known keys: {', '.join(sorted(known))})"


def format_path(path: Iterable[Any]) -> str:
    """``control[0][1]`` style, from jsonschema's path."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return repr(text) if text else "(top level)"


def _expectation(error: jsonschema.exceptions.ValidationError) -> str:
    """What was expected, in words a test writer reads."""
    validator, expected = error.validator, cast(Any, error.validator_value)
    if validator == "type":
        allowed = expected if isinstance(expected, list) else [expected]
        words = [_TYPE_WORDS.get(str(t), str(t)) for t in allowed]
        return f"expected {' or '.join(words)}, got {_describe(error.instance)}"
    if validator == "enum":
        return f"expected one of {', '.join(map(str, expected))}, got {error.instance!r}"
    if validator == "required":
        return str(error.message).replace("is a required property", "is required")
    if validator == "exclusiveMinimum":
        return f"expected a number greater than {expected}, got {error.instance!r}"
    if validator == "minimum":
        return f"expected a number at least {expected}, got {error.instance!r}"
    if validator in ("minItems", "maxItems"):
        bound = "at least" if validator == "minItems" else "at most"
        return f"expected {bound} {expected} item(s), got {error.instance!r}"
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        extra = [k for k in error.instance if k not in known]
        if extra:
            return unknown_key_message(str(extra[0]), known)
    return str(error.message)


_TYPE_WORDS = {"array": "list", "object": "mapping", "number": "number", "integer": "integer"}


def _describe(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "mapping"}
    if value is None:
        return "null"
    return f"{names.get(type(value), type(value).__name__)} {value!r}"
