"""Matrix testcases: one directory, one testcase per combination of values.

``matrix: {opt: [O0, O2], arch: [x86, arm], exclude: [{opt: O2, arch: arm}]}``
gives the ids ``dir[opt=O0,arch=x86]``, ``dir[opt=O0,arch=arm]``,
``dir[opt=O2,arch=x86]``: axes in the order written, values in the order
written, the first axis varying slowest (like nested loops), so ids are
stable from run to run. ``exclude`` (the name is reserved) drops every
combination that matches all the keys of one of its entries.

Combinations are generated lazily, one at a time; looking one variant up by
its id (a dependency ``dir[opt=O0,arch=x86]:build``) checks that single
combination without generating the others. This module never reads files.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from typing import Any

EXCLUDE = "exclude"
_VARIANT = re.compile(r"^(?P<dir>.+?)\[(?P<values>[^\[\]]*)\]$")


class MatrixError(Exception):
    """A ``matrix:`` value that cannot be expanded (a one-line reason)."""


def value_text(value: Any) -> str:
    """How a value appears in ids and ``${axis}`` substitutions (YAML spelling)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return str(value)


def axes(spec: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The axes of ``spec`` (without ``exclude``), checked."""
    if not isinstance(spec, Mapping) or not spec:
        raise MatrixError("matrix must be a non-empty mapping of axis -> list of values")
    result: dict[str, list[Any]] = {}
    for name, values in spec.items():
        if name == EXCLUDE:
            continue
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
            raise MatrixError(f"matrix axis name {name!r} must be an identifier")
        if not isinstance(values, list) or not values:
            raise MatrixError(f"matrix axis {name!r} must be a non-empty list of values")
        texts = [value_text(v) for v in values]
        for text in texts:
            if any(c in text for c in "[],="):
                raise MatrixError(f"matrix value {text!r} of axis {name!r} must not contain '[', ']', ',' or '='")
        if len(set(texts)) != len(texts):
            raise MatrixError(f"matrix axis {name!r} lists a value twice")
        result[name] = values
    if not result:
        raise MatrixError("matrix has no axis")
    return result


def _exclusions(spec: Mapping[str, Any], axis_values: dict[str, list[Any]]) -> list[dict[str, str]]:
    excludes = spec.get(EXCLUDE) or []
    if not isinstance(excludes, list):
        raise MatrixError("matrix exclude must be a list of {axis: value} mappings")
    result = []
    for entry in excludes:
        if not isinstance(entry, Mapping) or not entry:
            raise MatrixError(f"matrix exclude entry {entry!r} must be a non-empty {{axis: value}} mapping")
        for name in entry:
            if name not in axis_values:
                raise MatrixError(f"matrix exclude entry {dict(entry)!r} names unknown axis {name!r}")
        # Compared as text: `{opt: 1}` excludes the value written 1 whatever its YAML type.
        result.append({name: value_text(value) for name, value in entry.items()})
    return result


def _excluded(combination: Mapping[str, Any], exclusions: list[dict[str, str]]) -> bool:
    return any(all(value_text(combination[k]) == v for k, v in entry.items()) for entry in exclusions)


def expand(spec: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The combinations of ``spec``, in id order, exclusions dropped (lazily)."""
    axis_values = axes(spec)
    exclusions = _exclusions(spec, axis_values)
    names = list(axis_values)
    for values in itertools.product(*axis_values.values()):
        combination = dict(zip(names, values, strict=True))
        if not _excluded(combination, exclusions):
            yield combination


def variant_id(dir_id: str, combination: Mapping[str, Any]) -> str:
    return f"{dir_id}[{','.join(f'{k}={value_text(v)}' for k, v in combination.items())}]"


def split_variant_id(test_id: str) -> tuple[str, dict[str, str]] | None:
    """``("dir", {"opt": "O0"})`` for ``dir[opt=O0]``; None for a plain id."""
    match = _VARIANT.match(test_id)
    if match is None:
        return None
    values: dict[str, str] = {}
    for part in match["values"].split(","):
        name, sep, value = part.partition("=")
        if not sep:
            return None
        values[name] = value
    return match["dir"], values


def find(spec: Mapping[str, Any], wanted: Mapping[str, str]) -> dict[str, Any] | None:
    """The combination whose values read as ``wanted`` (axis order free), or None."""
    axis_values = axes(spec)
    if set(wanted) != set(axis_values):
        return None
    combination: dict[str, Any] = {}
    for name, values in axis_values.items():
        match = [v for v in values if value_text(v) == wanted[name]]
        if not match:
            return None
        combination[name] = match[0]
    if _excluded(combination, _exclusions(spec, axis_values)):
        return None
    return combination


#: ``$$`` (kept as a pair), ``${name}`` (any axis name, dashes included), ``$name``
_REFERENCE = re.compile(r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_-]*)\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


def substitute(text: str, combination: Mapping[str, Any]) -> str:
    """``${axis}`` (and ``$axis``) replaced by the combination's values; nothing else changes.

    The text is a shell script or an environment value as the testcase
    wrote it: ``$HOME``, ``${HOME:-x}`` and ``$$`` (the shell's pid: not an
    escape here, as it is for string.Template) stay as they are, so a
    script runs the same in a matrix testcase as outside one. An axis whose
    name holds a dash is only substituted braced (``$build-type`` is
    ``$build`` followed by ``-type`` to a shell).
    """
    if not combination or "$" not in text:
        return text
    values = {k: value_text(v) for k, v in combination.items()}

    def replace(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        return values[name] if name in values else match[0]

    return _REFERENCE.sub(replace, text)
