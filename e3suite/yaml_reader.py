"""Read test.yaml: an exact reader for the plain subset people write, PyYAML for the rest.

Most test.yaml files are a few ``key: value`` lines, block lists and
mappings, one-line flow lists (``cmd: [make, check]``) and comments.
Importing PyYAML costs more than reading thousands of such files (about
20 ms at start-up, half of it one regular expression of its pure-Python
reader), so ``load`` reads that subset itself and hands anything else to
PyYAML's safe loader (the C one where built).

The contract: for every text, ``load`` returns exactly what PyYAML's
SafeLoader returns (same values, same types: YAML 1.1 booleans such as
``yes``/``off``, octal ``017``, ``.inf``), or raises what the PyYAML path
raises. The fast reader never decides anything doubtful: a construct it
does not know for certain (anchors, tags, block scalars, multi-line flow
collections or plain scalars, timestamps, numbers with ``_`` or ``:``,
``1e9``, tabs, non-printable characters, duplicate keys, a document that
is not a mapping...) makes it give up, and PyYAML reads the text from the
start. Errors therefore always come from PyYAML, with its line numbers.
``tests/unit/test_yaml_reader.py`` cross-checks both paths over every
test.yaml of the repository and a corpus of tricky scalars.

This module never reads files and never imports PyYAML unless it falls back.
"""

from __future__ import annotations

import re
from typing import Any


class YamlError(Exception):
    """test.yaml is not valid YAML (or names a key twice)."""


class YamlSyntaxError(YamlError):
    """What PyYAML refused, with where (1-based line and column, when PyYAML says)."""

    def __init__(self, problem: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line
        self.column = column


class DuplicateKeyError(YamlError):
    """A mapping names the same key twice (PyYAML alone would keep the last value without a word)."""

    def __init__(self, key: Any, first_line: int, line: int, column: int) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key
        self.first_line = first_line
        self.line = line
        self.column = column


def load(text: str) -> Any:
    """What PyYAML's safe loader makes of ``text``, duplicate keys refused (YamlError)."""
    try:
        return _Reader(text).document()[0]
    except _Unsupported:
        return _pyyaml_load(text)


def load_with_written(text: str) -> tuple[Any, dict[str, list[str] | dict[str, str]]]:
    """``load(text)``, and the top-level lists and mappings holding scalars YAML typed, as written.

    ``cmd: [true, 1.50]`` gives ``{"cmd": ["true", "1.50"]}`` beside the
    typed ``[True, 1.5]``, so that a driver wanting the text (ShellDriver)
    need not read the file again. Empty when PyYAML read the text, or when
    every item is a string already.
    """
    try:
        value, written = _Reader(text).document()
    except _Unsupported:
        return _pyyaml_load(text), {}
    kept: dict[str, list[str] | dict[str, str]] = {}
    if isinstance(value, dict) and isinstance(written, dict):
        for key, typed in value.items():
            items = typed.values() if isinstance(typed, dict) else typed if isinstance(typed, list) else None
            if items is None or all(isinstance(item, str) for item in items):
                continue
            text_items = written.get(key)
            if isinstance(text_items, (list, dict)):
                texts = text_items.values() if isinstance(text_items, dict) else text_items
                if all(isinstance(t, str) for t in texts):
                    kept[key] = text_items
    return value, kept


def written_scalars(text: str, key: str) -> list[str] | dict[str, str] | None:
    """The items of top-level ``key`` (a list or mapping of scalars) as written, without YAML's typing.

    ``[true, 1.0, 'x']`` gives ``["true", "1.0", "x"]`` (quoted items
    unescaped): what PyYAML's ``compose`` calls the scalars' values. None
    when ``text`` is outside the fast reader's subset or the value is not a
    list or mapping of scalars: the caller composes with PyYAML then.
    """
    try:
        _, written = _Reader(text).document()
    except _Unsupported:
        return None
    items = written.get(key) if isinstance(written, dict) else None
    if isinstance(items, list) and all(isinstance(item, str) for item in items):
        return items
    if isinstance(items, dict) and all(isinstance(item, str) for item in items.values()):
        return items
    return None


# -- the fast reader -------------------------------------------------------------


class _Unsupported(Exception):
    """Outside the subset read here: PyYAML reads the text."""


#: A plain key that can only be a string: letters first (numbers, ``<<``,
#: ``?`` and quoted keys fall back); the words YAML reads as booleans or null
#: are sent back by the resolution check.
_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_./-]*):(?= |$)")
_FLOW_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_./-]*): +")

#: YAML 1.1 words of the boolean and null types, as PyYAML's resolver spells them.
_WORDS: dict[str, Any] = {
    **dict.fromkeys(["yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"], True),
    **dict.fromkeys(["no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"], False),
    **dict.fromkeys(["", "~", "null", "Null", "NULL"], None),
}
#: Every int, float and timestamp of YAML 1.1 starts so (``.inf`` and ``.5``
#: too, ``./run.sh`` not); such a plain scalar is either one of the exact
#: forms below or read by PyYAML.
_NUMBER_START = re.compile(r"[-+]?(?:[0-9]|\.[0-9iInN])")
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_OCTAL = re.compile(r"[-+]?0[0-7]+")
_BASE_PREFIXED = re.compile(r"([-+]?)0(?:x([0-9a-fA-F]+)|b([01]+))")
_FLOAT = re.compile(r"[-+]?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?|\.[0-9]+(?:[eE][-+][0-9]+)?")
_SPECIAL_FLOATS = {
    **{f"{sign}.{inf}": float(f"{sign}inf") for sign in ("", "+", "-") for inf in ("inf", "Inf", "INF")},
    **{f".{nan}": float("nan") for nan in ("nan", "NaN", "NAN")},
}
_ESCAPES = {
    "0": "\0", "a": "\x07", "b": "\x08", "t": "\t", "n": "\n", "v": "\x0b", "f": "\x0c", "r": "\r",
    "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029",
}  # fmt: skip
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
#: Characters that start something else than a plain scalar (or one read only by PyYAML).
_NOT_PLAIN_START = frozenset("&*!|>%@`?:,[]{}#'\"")


def _plain(text: str) -> Any:
    """The value of a plain scalar, as PyYAML's resolver and safe constructor make it."""
    value = _WORDS.get(text, _WORDS)
    if value is not _WORDS:
        return value
    if _NUMBER_START.match(text):
        if _DECIMAL.fullmatch(text):
            return int(text)
        if _FLOAT.fullmatch(text):
            return float(text)
        if _OCTAL.fullmatch(text):
            return int(text, 8)
        special = _SPECIAL_FLOATS.get(text)
        if special is not None:
            return special
        prefixed = _BASE_PREFIXED.fullmatch(text)
        if prefixed is not None:
            sign, hexadecimal, binary = prefixed.groups()
            number = int(hexadecimal, 16) if hexadecimal is not None else int(binary, 2)
            return -number if sign == "-" else number
        raise _Unsupported  # 1e9 (a string), 1_000, 1:30, 2001-01-01, -.5, 1.2.3...
    if text in ("<<", "="):
        raise _Unsupported  # merge and value keys
    return text


class _Reader:
    """One pass over the lines of a text; ``document`` returns (value, the scalars as written)."""

    def __init__(self, text: str) -> None:
        self.lines: list[tuple[int, str]] = []  # (indent, line) of the lines with content
        for line in text.split("\n"):
            if not line.isprintable():  # tabs, \r, control characters, YAML's other line breaks
                raise _Unsupported
            body = line.lstrip(" ")
            if not body or body[0] == "#":
                continue
            if line.startswith(("---", "...", "%")):
                raise _Unsupported  # documents and directives
            self.lines.append((len(line) - len(body), line))
        self.pos = 0

    def document(self) -> tuple[Any, Any]:
        if not self.lines:
            return None, None
        indent, line = self.lines[0]
        if indent != 0 or _is_entry(line, 0):
            raise _Unsupported  # a top-level list or scalar: not a test.yaml anyway, PyYAML says why
        value = self.mapping(0, 0)
        if self.pos != len(self.lines):
            raise _Unsupported
        return value

    def mapping(self, indent: int, column: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """A block mapping whose keys are at ``indent``; the first one at ``column`` of the current line."""
        values: dict[str, Any] = {}
        written: dict[str, Any] = {}
        lines = self.lines
        while True:
            line = lines[self.pos][1]
            match = _KEY.match(line, column)
            if match is None:
                raise _Unsupported
            key = match.group(1)
            if key in values or not isinstance(_plain(key), str):
                raise _Unsupported  # PyYAML names both lines; yes:, null: are not string keys
            values[key], written[key] = self.value(line, match.end(), indent)
            if self.pos == len(lines) or lines[self.pos][0] != indent or _is_entry(lines[self.pos][1], indent):
                break
            column = indent
        if self.pos < len(lines) and lines[self.pos][0] > indent:
            raise _Unsupported  # a continuation line, or a key at another indentation
        return values, written

    def sequence(self, indent: int) -> tuple[list[Any], list[Any]]:
        """A block sequence whose ``-`` are at ``indent``."""
        values: list[Any] = []
        written: list[Any] = []
        lines = self.lines
        while self.pos < len(lines) and lines[self.pos][0] == indent and _is_entry(lines[self.pos][1], indent):
            line = lines[self.pos][1]
            start = indent + 1
            while start < len(line) and line[start] == " ":
                start += 1
            if start < len(line) and line[start] != "#" and _KEY.match(line, start) is not None:
                value, text = self.mapping(start, start)  # "- name: build" and the keys below it
            else:
                value, text = self.value(line, indent + 1, indent)
            values.append(value)
            written.append(text)
        if self.pos < len(lines) and lines[self.pos][0] > indent:
            raise _Unsupported
        return values, written

    def value(self, line: str, start: int, indent: int) -> tuple[Any, Any]:
        """The value after ``key:`` or ``-`` at ``start`` of ``line``: on the line, or the block below."""
        rest = line[start:].lstrip(" ")
        if rest and rest[0] != "#" and start < len(line) and line[start] != " ":
            raise _Unsupported
        self.pos += 1
        if not rest or rest[0] == "#":
            if self.pos == len(self.lines):
                return None, None
            below, below_line = self.lines[self.pos]
            if below > indent:
                if _is_entry(below_line, below):
                    return self.sequence(below)
                return self.mapping(below, below)
            if below == indent and _is_entry(below_line, indent) and line[indent] != "-":
                return self.sequence(indent)  # a list under a key, at the key's own indentation
            return None, None
        if rest[0] in "[{":
            value, text, end = _flow(rest, 0)
        elif rest[0] == "'":
            value, end = _single_quoted(rest, 0)
            text = value
        elif rest[0] == '"':
            value, end = _double_quoted(rest, 0)
            text = value
        else:
            if rest[0] in _NOT_PLAIN_START or (rest[0] == "-" and (len(rest) == 1 or rest[1] == " ")):
                raise _Unsupported
            comment = rest.find(" #")
            text = (rest if comment < 0 else rest[:comment]).rstrip(" ")
            if ": " in text or text.endswith(":"):
                raise _Unsupported
            return _plain(text), text
        tail = rest[end:]
        if tail and not (tail[0] == " " and tail.lstrip(" ")[:1] in ("", "#")):
            raise _Unsupported
        return value, text


def _is_entry(line: str, indent: int) -> bool:
    """True when ``line`` holds a block sequence entry (``-`` then a space or nothing) at ``indent``."""
    return line.startswith("-", indent) and (len(line) == indent + 1 or line[indent + 1] == " ")


def _flow(text: str, start: int) -> tuple[Any, Any, int]:
    """A flow sequence or mapping closed on this line: (value, as written, end)."""
    closing = "]" if text[start] == "[" else "}"
    values: list[Any] = []
    written: list[Any] = []
    mapping_values: dict[str, Any] = {}
    mapping_written: dict[str, Any] = {}
    i = _skip_spaces(text, start + 1)
    if i < len(text) and text[i] == closing:
        return ([], [], i + 1) if closing == "]" else ({}, {}, i + 1)
    while True:
        key = None
        if closing == "}":
            match = _FLOW_KEY.match(text, i)
            if match is None:
                raise _Unsupported
            key = match.group(1)
            if key in mapping_values or not isinstance(_plain(key), str):
                raise _Unsupported
            i = match.end()
        value, as_written, i = _flow_item(text, i)
        if key is None:
            values.append(value)
            written.append(as_written)
        else:
            mapping_values[key] = value
            mapping_written[key] = as_written
        i = _skip_spaces(text, i)
        if i < len(text) and text[i] == closing:
            i += 1
            break
        if i >= len(text) or text[i] != ",":
            raise _Unsupported
        i = _skip_spaces(text, i + 1)
        if i >= len(text) or text[i] in ",]}":
            raise _Unsupported  # [a,] and [a,,b]: PyYAML knows
    return (values, written, i) if closing == "]" else (mapping_values, mapping_written, i)


def _flow_item(text: str, i: int) -> tuple[Any, Any, int]:
    if i >= len(text):
        raise _Unsupported
    first = text[i]
    if first in "[{":
        return _flow(text, i)
    if first == "'":
        value, end = _single_quoted(text, i)
        return value, value, end
    if first == '"':
        value, end = _double_quoted(text, i)
        return value, value, end
    if first in _NOT_PLAIN_START or (first == "-" and text[i + 1 : i + 2] in ("", " ", ",", "[", "]", "{", "}")):
        raise _Unsupported
    j = i
    while j < len(text) and text[j] not in ",[]{}":
        char = text[j]
        if char == "#" and text[j - 1] == " ":
            raise _Unsupported  # a comment inside an open flow collection
        if char == ":" and text[j + 1 : j + 2] in ("", " ", ",", "[", "]", "{", "}"):
            raise _Unsupported  # a pair
        if char in "?'\"":
            raise _Unsupported  # the C and Python scanners differ on ? in flow scalars
        j += 1
    if j < len(text) and text[j] in "[{":
        raise _Unsupported
    plain = text[i:j].rstrip(" ")
    return _plain(plain), plain, j


def _skip_spaces(text: str, i: int) -> int:
    while i < len(text) and text[i] == " ":
        i += 1
    return i


def _single_quoted(text: str, start: int) -> tuple[str, int]:
    parts = []
    i = start + 1
    while True:
        quote = text.find("'", i)
        if quote < 0:
            raise _Unsupported  # continued on the next line
        parts.append(text[i:quote])
        if text.startswith("'", quote + 1):
            parts.append("'")
            i = quote + 2
            continue
        return "".join(parts), quote + 1


def _double_quoted(text: str, start: int) -> tuple[str, int]:
    parts = []
    i = start + 1
    while True:
        quote = text.find('"', i)
        backslash = text.find("\\", i)
        if quote < 0:
            raise _Unsupported  # continued on the next line
        if backslash < 0 or quote < backslash:
            parts.append(text[i:quote])
            return "".join(parts), quote + 1
        parts.append(text[i:backslash])
        code = text[backslash + 1 : backslash + 2]
        if code in _ESCAPES:
            parts.append(_ESCAPES[code])
            i = backslash + 2
        elif code in _HEX_ESCAPES:
            digits = text[backslash + 2 : backslash + 2 + _HEX_ESCAPES[code]]
            if len(digits) != _HEX_ESCAPES[code] or not _HEX_DIGITS.issuperset(digits):
                raise _Unsupported
            point = int(digits, 16)
            if point > 0x10FFFF or 0xD800 <= point <= 0xDFFF:
                raise _Unsupported
            parts.append(chr(point))
            i = backslash + 2 + len(digits)
        else:
            raise _Unsupported  # an escaped line break, or an escape PyYAML refuses


# -- PyYAML, for everything else ---------------------------------------------------

_strict_loader: Any = None


def _pyyaml_load(text: str) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=strict_loader())
    except YamlError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if mark is not None:
            raise YamlSyntaxError(problem, mark.line + 1, mark.column + 1) from None
        raise YamlSyntaxError(problem) from None


def strict_loader() -> Any:
    """PyYAML's safe loader (the C one where built), refusing duplicate keys; made on first use."""
    global _strict_loader
    if _strict_loader is None:
        import yaml

        try:  # The C loader is several times faster on large suites.
            from yaml import CSafeLoader as SafeLoader
        except ImportError:  # pragma: no cover - depends on how PyYAML was built
            from yaml import SafeLoader  # type: ignore[assignment]

        class StrictLoader(SafeLoader):
            """The safe loader, refusing duplicate keys.

            PyYAML keeps the last value of a repeated key without a word, and
            code that re-reads the source (ShellDriver's items as written)
            finds the first: the same test.yaml would mean two things. Only
            the constructor is Python code, so the C parser still reads.
            """

            def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
                seen: dict[Any, yaml.Mark] = {}
                for key_node, _ in node.value:
                    if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                        continue  # `<<` merges may override keys: that is what they are for
                    key = self.construct_object(key_node)
                    try:
                        first = seen.setdefault(key, key_node.start_mark)
                    except TypeError:  # pragma: no cover - scalar keys are hashable
                        continue
                    if first is not key_node.start_mark:
                        mark = key_node.start_mark
                        raise DuplicateKeyError(key, first.line + 1, mark.line + 1, mark.column + 1)
                return super().construct_mapping(node, deep)

        # A lone `=` is YAML 1.1's "value" key, which no safe loader constructs: PyYAML
        # refuses `cmd: [test, "$x", =, y]`, the shell's most common comparison. It is its text.
        def value_key(loader: yaml.BaseLoader, node: yaml.Node) -> str:
            return str(node.value)

        StrictLoader.add_constructor("tag:yaml.org,2002:value", value_key)
        _strict_loader = StrictLoader
    return _strict_loader
