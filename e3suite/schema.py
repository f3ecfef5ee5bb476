"""Validation of test.yaml against the common keys and the driver's schema.

Every driver declares the keys it reads in ``test_yaml_schema`` (a JSON
Schema object with ``properties``, optionally ``required``); this module adds
the keys every testcase may use (``driver``, ``description``, ``timeout``,
``control``, ``matrix``) and validates with jsonschema. A driver that
declares no properties accepts any extra key (it did not say what it reads);
one that declares properties gets unknown keys rejected, with a suggestion
("unknown key 'timout': did you mean 'timeout'?"). Where extra keys are
accepted, ``typo_warnings`` still flags those that look like a misspelt
known key: a ``timout: 5`` that nobody reads would otherwise run with no
timeout, silently.

Validation returns a one-line message naming the key path and what was
expected; it never raises for bad input. This module must never read files
or run anything.

Speed: importing jsonschema costs about 50 ms, a tenth of what a run of
1000 short testcases takes. A small exact checker handles the keywords our
schemas use (``type``, ``enum``, ``properties``, ``required``, ``items``,
``anyOf``/``oneOf``/``allOf``, bounds...) and answers "valid", "invalid" or
"not sure"; only "valid" is trusted. Anything else (an invalid test.yaml, a
keyword it does not know) goes to jsonschema, which gives the message, so
jsonschema is imported only when a run has something to report or a driver
uses richer schemas. Validators are compiled once per driver class.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
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
    "resources": {
        "type": "object",
        "description": "counted resources each fragment holds while it runs, e.g. {gpu: 1} (docs/resources.md)",
        "additionalProperties": {"type": "integer", "minimum": 1},
    },
    "locks": {
        "type": "array",
        "description": "named locks each fragment holds while it runs: fragments holding the same lock never overlap",
        "items": {"type": "string", "minLength": 1},
    },
    "slots": {
        "type": "integer",
        "minimum": 1,
        "description": "how many of the -j slots each fragment counts as (a test running make -j4: 4)",
    },
    "serial": {"type": "boolean", "description": "each fragment runs alone, nothing beside it"},
    "retries": {
        "type": "integer",
        "minimum": 0,
        "description": "how many more times the testcase is tried when it fails (0: never); "
        "overrides --retries and the driver's default",
    },
    "requires": {
        "type": "object",
        "description": "facts a Dask worker must have to run it: numbers are minimums, strings equal or a version "
        "range ('>=14'), booleans exact (docs/distributed.md)",
        "additionalProperties": {"type": ["string", "number", "boolean"]},
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

_validators: dict[int, tuple[Any, jsonschema.protocols.Validator]] = {}
_full_schemas: dict[int, tuple[Any, dict[str, Any], frozenset[str] | None]] = {}


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


def _full_schema(driver_schema: dict[str, Any]) -> tuple[dict[str, Any], frozenset[str] | None]:
    """The full schema (cached per driver schema) and its closed set of keys, if closed."""
    cached = _full_schemas.get(id(driver_schema))
    if cached is not None and cached[0] is driver_schema:
        return cached[1], cached[2]
    schema = full_schema(driver_schema)
    known = frozenset(schema["properties"]) if schema.get("additionalProperties") is False else None
    # Keep a reference to the driver's schema: the cache is keyed by its id().
    _full_schemas[id(driver_schema)] = (driver_schema, schema, known)
    return schema, known


def _validator(driver_schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    cached = _validators.get(id(driver_schema))
    if cached is not None and cached[0] is driver_schema:
        return cached[1]
    import jsonschema  # see the module's docstring: only when the fast check is not sure

    schema, _ = _full_schema(driver_schema)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    validator = cls(schema)
    _validators[id(driver_schema)] = (driver_schema, validator)
    return validator


_schema_problems: dict[int, tuple[Any, str | None]] = {}


def driver_schema_problem(driver_schema: Any) -> str | None:
    """None when a driver's ``test_yaml_schema`` is a usable JSON Schema, else a one-line reason.

    Checked once per schema, whatever the test.yaml files hold: a schema
    that is itself invalid (``"type": "intger"``, ``properties`` given as a
    list) must not pass unnoticed until a testcase happens to use the key,
    and then stop the run with jsonschema's traceback. The keywords the fast
    check knows are checked here; jsonschema (its metaschema) is asked only
    about the others, or for the words of a problem.
    """
    cached = _schema_problems.get(id(driver_schema))
    if cached is not None and cached[0] is driver_schema:
        return cached[1]
    problem = _driver_schema_problem(driver_schema)
    _schema_problems[id(driver_schema)] = (driver_schema, problem)
    return problem


def _driver_schema_problem(driver_schema: Any) -> str | None:
    if not isinstance(driver_schema, dict):
        return f"expected a mapping (a JSON Schema object), got {_describe(driver_schema)}"
    properties = driver_schema.get("properties")
    if properties is not None and not isinstance(properties, dict):
        return f"'properties' must map each key to its schema, got {_describe(properties)}"
    required = driver_schema.get("required")
    if required is not None and (
        not isinstance(required, list) or not all(isinstance(key, str) for key in required)
    ):
        return f"'required' must be a list of key names, got {_describe(required)}"
    schema = full_schema(driver_schema)
    if _schema_looks_valid(schema) is True:
        return None
    import jsonschema  # a keyword the light check does not know, or a problem to put in words

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        where = "".join(f"[{part!r}]" for part in exc.absolute_path)
        return f"at {where or 'the top'}: {exc.message}"
    return None


_NON_NEGATIVE = ("minItems", "maxItems", "minProperties", "maxProperties", "minLength", "maxLength")
_NUMBER_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def _schema_looks_valid(schema: Any) -> bool | None:
    """Is ``schema`` valid under Draft 2020-12's metaschema: True, or None (not sure)."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict):
        return None
    for keyword, value in schema.items():
        if keyword in ("description", "title", "$comment"):
            ok: bool | None = isinstance(value, str)
        elif keyword in ("default", "examples", "deprecated"):
            ok = isinstance(value, list) if keyword == "examples" else (
                isinstance(value, bool) if keyword == "deprecated" else True
            )
        elif keyword == "type":
            names = value if isinstance(value, list) else [value]
            ok = bool(names) and len(set(map(str, names))) == len(names) and all(
                isinstance(name, str) and name in _TYPE_CHECKS for name in names
            )
        elif keyword == "enum":
            ok = isinstance(value, list)
        elif keyword == "properties":
            ok = isinstance(value, dict) and _all(_schema_looks_valid(sub) for sub in value.values())
        elif keyword in ("additionalProperties", "items", "not"):
            ok = _schema_looks_valid(value)
        elif keyword in ("prefixItems", "anyOf", "oneOf", "allOf"):
            ok = isinstance(value, list) and bool(value) and _all(_schema_looks_valid(sub) for sub in value)
        elif keyword == "required":
            ok = isinstance(value, list) and all(isinstance(k, str) for k in value) and len(set(value)) == len(value)
        elif keyword in _NON_NEGATIVE:
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        elif keyword in _NUMBER_BOUNDS:
            ok = _TYPE_CHECKS["number"](value)
        else:
            ok = None
        if ok is not True:
            return None
    return True


def validate(test_env: dict[str, Any], driver_schema: dict[str, Any]) -> str | None:
    """None when ``test_env`` is valid, else a one-line message."""
    schema, known = _full_schema(driver_schema)
    if known is not None:
        for key in test_env:
            if key not in known:
                return unknown_key_message(str(key), known)
    problem = _non_finite(test_env, schema["properties"])
    if problem is not None:
        return problem
    if fast_check(schema, test_env) is True:
        return None
    import jsonschema

    errors = list(_validator(driver_schema).iter_errors(test_env))
    if not errors:
        return None
    error = jsonschema.exceptions.best_match(errors)
    if list(error.absolute_path)[:1] == ["control"]:
        from e3suite.control import flat_entry_problem

        flat = flat_entry_problem(test_env["control"])
        if flat is not None:
            return flat
    if error.validator == "required" and not error.absolute_path:
        missing = [k for k in error.validator_value if k not in test_env]
        return f"missing required key {missing[0]!r}" if missing else error.message
    return f"key {format_path(error.absolute_path)}: {_expectation(error)}"


#: How close (difflib's ratio) an extra key must be to a known one to be
#: called a typo: 'timout' (0.92) and 'contrl' (0.92) are, 'timeouts_file'
#: (0.7) and 'env' are not.
TYPO_CUTOFF = 0.8


def typo_warnings(test_env: dict[str, Any], driver_schema: dict[str, Any]) -> list[str]:
    """Warnings for extra keys of an open schema that look like misspelt known keys.

    A closed schema refuses unknown keys already (``validate``); an open one
    lets them through to the driver, which may read them, so they are only
    warnings.
    """
    schema, known = _full_schema(driver_schema)
    if known is not None:
        return []
    properties = schema["properties"]
    warnings = []
    for key in test_env:
        if not isinstance(key, str) or key in properties:
            continue
        close = _close_key(key, tuple(sorted(properties)))
        if close:
            warnings.append(f"key {key!r} is not a key e3suite or the driver declares: did you mean {close!r}?")
    return warnings


@functools.lru_cache(maxsize=256)
def _close_key(key: str, known: tuple[str, ...]) -> str | None:
    """The known key that ``key`` looks like a misspelling of, if any.

    Cached: a driver's own keys (``cmd``, ``chain``...) come back in each of
    its test.yaml files, at 0.05 ms a look.
    """
    import difflib  # only for a key the schema does not know: not on every run's path

    close = difflib.get_close_matches(key, known, n=1, cutoff=TYPO_CUTOFF)
    return close[0] if close else None


def _non_finite(test_env: dict[str, Any], properties: dict[str, Any]) -> str | None:
    """YAML's .inf and .nan are numbers to JSON Schema (and NaN passes every bound): refuse them."""
    for key, value in test_env.items():
        if isinstance(value, float) and not math.isfinite(value):
            expected = properties.get(key, {}).get("type") if isinstance(properties.get(key), dict) else None
            if expected in ("number", "integer"):
                spelled = ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
                return f"key {key!r}: expected a finite number, got {spelled}"
    return None


#: Numbers YAML 1.1 (PyYAML) reads as strings: an exponent without a dot in
#: the mantissa or without a sign (1e9, 1.5e3).
_STRING_NUMBER = re.compile(r"[-+]?(\d[\d_]*)(\.\d*)?[eE][-+]?\d+")


def _number_hint(value: Any) -> str:
    """A hint when ``value`` is a string YAML should have read as a number."""
    if not isinstance(value, str) or not _STRING_NUMBER.fullmatch(value):
        return ""
    mantissa, exponent = re.split("[eE]", value)
    mantissa = mantissa if "." in mantissa else mantissa + ".0"
    exponent = exponent if exponent[0] in "+-" else "+" + exponent
    spellings = [f"{mantissa}e{exponent}"] if f"{mantissa}e{exponent}" != value else []
    number = float(value.replace("_", ""))
    if not math.isfinite(number):
        return ""  # 1e400: as a number it would be infinite, which no key takes
    if number.is_integer() and abs(number) < 1e16:
        spellings.append(str(int(number)))
    if not spellings:
        return ""  # spelled as YAML reads a number: quoted on purpose
    return f" (YAML reads {value} as a string: write {' or '.join(spellings)})"


def unknown_key_message(key: str, known: Iterable[str]) -> str:
    import difflib

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
        hint = _number_hint(error.instance) if {"number", "integer"} & set(map(str, allowed)) else ""
        return f"expected {' or '.join(words)}, got {_describe(error.instance)}{hint}"
    if validator in ("anyOf", "oneOf") and isinstance(expected, list):
        # jsonschema says "42 is not valid under any of the given schemas": name the alternatives.
        # (a branch without a type, `not: ...`, says what is refused, not what is expected)
        types = [sub.get("type") for sub in expected if isinstance(sub, dict) and "type" in sub]
        if types and all(types):
            words = []
            for t in types:
                for name in t if isinstance(t, list) else [t]:
                    word = _TYPE_WORDS.get(str(name), str(name))
                    if word not in words:
                        words.append(word)
            return f"expected {' or '.join(words)}, got {_describe(error.instance)}"
    if validator == "minLength":
        return f"expected at least {expected} character(s), got {error.instance!r}"
    if validator == "enum":
        return f"expected one of {', '.join(map(str, expected))}, got {error.instance!r}"
    if validator == "required":
        return str(error.message).replace("is a required property", "is required")
    if validator == "exclusiveMinimum":
        return f"expected a number greater than {expected}, got {error.instance!r}"
    if validator == "minimum":
        return f"expected a number at least {expected}, got {error.instance!r}"
    if validator == "maximum":
        return f"expected a number at most {expected}, got {error.instance!r}"
    if validator in ("minItems", "maxItems"):
        bound = "at least" if validator == "minItems" else "at most"
        return f"expected {bound} {expected} item(s), got {error.instance!r}"
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        extra = [k for k in error.instance if k not in known]
        if extra:
            return unknown_key_message(str(extra[0]), known)
    return str(error.message)


_TYPE_WORDS = {"array": "list", "object": "mapping", "number": "number", "integer": "integer", "null": "null"}


def _describe(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "mapping"}
    if value is None:
        return "null"
    return f"{names.get(type(value), type(value).__name__)} {value!r}"


# -- the fast check ------------------------------------------------------------

#: Keywords that say nothing about validity.
_ANNOTATIONS = frozenset({"description", "title", "default", "examples", "$comment", "deprecated"})

_TYPE_CHECKS: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
}

#: What YAML's safe loader makes that JSON Schema has a word for.
_PLAIN = (dict, list, str, int, float, bool, type(None))


def fast_check(schema: Any, value: Any) -> bool | None:
    """Is ``value`` valid against ``schema``: True, False, or None (not sure).

    Exact for the keywords it knows (Draft 2020-12 semantics); None as soon
    as it meets another keyword or a value JSON has no type for. Callers
    trust True only.
    """
    if schema is True:
        return True
    if schema is False:
        return False
    if not isinstance(schema, dict) or not isinstance(value, _PLAIN):
        return None
    verdict: bool | None = True
    for keyword, expected in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        check = _KEYWORDS.get(keyword)
        if check is None:
            return None
        outcome = check(expected, value, schema)
        if outcome is False:
            return False
        if outcome is None:
            verdict = None
    return verdict


def _all(outcomes: Iterable[bool | None]) -> bool | None:
    verdict: bool | None = True
    for outcome in outcomes:
        if outcome is False:
            return False
        if outcome is None:
            verdict = None
    return verdict


def _type(expected: Any, value: Any, schema: dict[str, Any]) -> bool | None:
    names = expected if isinstance(expected, list) else [expected]
    if not all(isinstance(name, str) and name in _TYPE_CHECKS for name in names):
        return None
    return any(_TYPE_CHECKS[name](value) for name in names)


def _enum(expected: Any, value: Any, schema: dict[str, Any]) -> bool | None:
    if not isinstance(expected, list):
        return None
    simple = (str, bool, type(None))
    if not isinstance(value, simple) or not all(isinstance(e, simple) for e in expected):
        return None  # numbers (1 == 1.0 == True) and containers: jsonschema knows best
    return any(type(e) is type(value) and e == value for e in expected)


def _properties(expected: Any, value: Any, schema: dict[str, Any]) -> bool | None:
    if not isinstance(value, dict):
        return True
    if not isinstance(expected, dict):
        return None
    return _all(fast_check(expected[key], item) for key, item in value.items() if key in expected)


def _additional(expected: Any, value: Any, schema: dict[str, Any]) -> bool | None:
    if not isinstance(value, dict):
        return True
    if "patternProperties" in schema or any(not isinstance(key, str) for key in value):
        return None
    known = schema.get("properties") or {}
    return _all(fast_check(expected, item) for key, item in value.items() if key not in known)


def _required(expected: Any, value: Any, schema: dict[str, Any]) -> bool | None:
    if not isinstance(value, dict):
        return True
    if not isinstance(expected, list):
        return None
    return all(key in value for key in expected)


def _items(expected: Any, value: Any, schema: dict[str, Any]) -> bool | None:
    if not isinstance(value, list):
        return True
    if isinstance(expected, list):
        return None  # the tuple form of older drafts
    prefix = schema.get("prefixItems")
    skip = len(prefix) if isinstance(prefix, list) else 0
    return _all(fast_check(expected, item) for item in value[skip:])


def _prefix_items(expected: Any, value: Any, schema: dict[str, Any]) -> bool | None:
    if not isinstance(value, list):
        return True
    if not isinstance(expected, list):
        return None
    return _all(fast_check(sub, item) for sub, item in zip(expected, value, strict=False))  # a shorter list is fine


def _bound(applies_to: str, test: Any) -> Any:
    """A bound keyword: it says nothing of values other than ``applies_to`` (a JSON type)."""
    applies = _TYPE_CHECKS[applies_to]

    def check(expected: Any, value: Any, schema: dict[str, Any]) -> bool | None:
        if not applies(value):
            return True
        if not _TYPE_CHECKS["number"](expected):
            return None
        return bool(test(value, expected))

    return check


def _any_of(expected: Any, value: Any, schema: dict[str, Any]) -> bool | None:
    if not isinstance(expected, list):
        return None
    outcomes = [fast_check(sub, value) for sub in expected]
    if True in outcomes:
        return True
    return None if None in outcomes else False


def _not(expected: Any, value: Any, schema: dict[str, Any]) -> bool | None:
    outcome = fast_check(expected, value)
    return None if outcome is None else not outcome


def _one_of(expected: Any, value: Any, schema: dict[str, Any]) -> bool | None:
    if not isinstance(expected, list):
        return None
    outcomes = [fast_check(sub, value) for sub in expected]
    if None in outcomes:
        return None
    return outcomes.count(True) == 1


def _all_of(expected: Any, value: Any, schema: dict[str, Any]) -> bool | None:
    if not isinstance(expected, list):
        return None
    return _all(fast_check(sub, value) for sub in expected)


_KEYWORDS: dict[str, Any] = {
    "type": _type,
    "enum": _enum,
    "properties": _properties,
    "additionalProperties": _additional,
    "required": _required,
    "items": _items,
    "prefixItems": _prefix_items,
    "minItems": _bound("array", lambda v, n: len(v) >= n),
    "maxItems": _bound("array", lambda v, n: len(v) <= n),
    "minProperties": _bound("object", lambda v, n: len(v) >= n),
    "maxProperties": _bound("object", lambda v, n: len(v) <= n),
    "minLength": _bound("string", lambda v, n: len(v) >= n),
    "maxLength": _bound("string", lambda v, n: len(v) <= n),
    "minimum": _bound("number", lambda v, n: v >= n),
    "maximum": _bound("number", lambda v, n: v <= n),
    "exclusiveMinimum": _bound("number", lambda v, n: v > n),
    "exclusiveMaximum": _bound("number", lambda v, n: v < n),
    "anyOf": _any_of,
    "not": _not,
    "oneOf": _one_of,
    "allOf": _all_of,
}
