"""Output refiners: turn a command's output into something stable to compare.

A refiner is any callable ``str -> str``; a list of them is applied in
order (``apply``). The stock ones cover what baselines usually need:
``Substitute`` (plain substring), ``ReplaceRegex`` (``re.sub``, ``\\1`` for
groups), ``ReplacePath`` (a directory in its usual spellings), and
``CanonicalizeLineEndings``; ``LineByLine`` applies a refiner to each line
separately (so ``^``/``$`` and greedy patterns stay within a line).

``from_yaml`` builds the list from the ``refiners:`` key of test.yaml. This
module is pure text processing: it never reads or writes files.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Refiner = Callable[[str], str]


class RefinerError(Exception):
    """A ``refiners:`` entry that cannot be used (a one-line reason)."""


@dataclass(frozen=True)
class Substitute:
    """Replace every occurrence of ``substring`` with ``replacement``."""

    substring: str
    replacement: str = ""

    def __call__(self, text: str) -> str:
        return text.replace(self.substring, self.replacement) if self.substring else text


class ReplaceRegex:
    """``re.sub(pattern, replacement, text)``; the pattern is compiled once."""

    def __init__(self, pattern: str | re.Pattern[str], replacement: str = "", flags: int = 0) -> None:
        self.regex = re.compile(pattern, flags) if isinstance(pattern, str) else pattern
        self.replacement = replacement

    def __call__(self, text: str) -> str:
        return self.regex.sub(self.replacement, text)

    def __repr__(self) -> str:
        return f"ReplaceRegex({self.regex.pattern!r}, {self.replacement!r})"


class ReplacePath:
    """Replace a directory (as given, resolved, with either slash) by a placeholder.

    Longer spellings go first so that ``/tmp/x`` does not leave a stray
    suffix when ``/private/tmp/x`` (its resolved form) was printed.
    """

    def __init__(self, path: str | os.PathLike[str], replacement: str) -> None:
        text = os.fspath(path)
        spellings = {text, text.rstrip("/") or text}
        with contextlib.suppress(OSError):  # resolve() failing is rare; keep the given spellings
            spellings.add(str(Path(text).resolve()))
        spellings |= {s.replace("/", "\\") for s in spellings}
        self.spellings = sorted((s for s in spellings if s), key=len, reverse=True)
        self.replacement = replacement

    def __call__(self, text: str) -> str:
        for spelling in self.spellings:
            text = text.replace(spelling, self.replacement)
        return text

    def __repr__(self) -> str:
        return f"ReplacePath({self.spellings[0]!r}, {self.replacement!r})"


class CanonicalizeLineEndings:
    """CRLF becomes LF: baselines compare the same on every OS.

    A lone CR is not a line ending but content (a progress line redrawn in
    place): ``a\rb`` and ``a\nb`` are different outputs.
    """

    def __call__(self, text: str) -> str:
        return text.replace("\r\n", "\n")

    def __repr__(self) -> str:
        return "CanonicalizeLineEndings()"


@dataclass(frozen=True)
class LineByLine:
    """Apply ``refiner`` to each line (without its line ending) separately."""

    refiner: Refiner

    def __call__(self, text: str) -> str:
        return "".join(self.refiner(line[: len(line) - len(_ending(line))]) + _ending(line)
                       for line in lines(text))


def lines(text: str) -> list[str]:
    """``text`` cut after each LF, endings kept.

    Not ``str.splitlines``: it also cuts at a lone CR, form feeds and
    Unicode separators, which are content here.
    """
    parts = text.split("\n")
    cut = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        cut.append(parts[-1])
    return cut


def _ending(line: str) -> str:
    if line.endswith("\r\n"):
        return "\r\n"
    if line.endswith("\n"):
        return "\n"
    return ""


def apply(refiners: Iterable[Refiner], text: str) -> str:
    for refiner in refiners:
        text = refiner(text)
    return text


#: JSON Schema of one ``refiners:`` entry (used by the drivers' schemas).
YAML_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "oneOf": [
            {"required": ["substring"]},
            {"required": ["regex"]},
            {"required": ["path"]},
        ],
        "properties": {
            "substring": {"type": "string", "minLength": 1},
            "regex": {"type": "string", "minLength": 1},
            "path": {"type": "string", "minLength": 1},
            "replace": {"type": "string"},
            "line_by_line": {"type": "boolean"},
        },
        "additionalProperties": False,
    },
}


def from_yaml(entries: Any, places: Mapping[str, str | os.PathLike[str]]) -> list[Refiner]:
    """Refiners from a ``refiners:`` list.

    Each entry is ``{substring: TEXT, replace: TEXT}``, ``{regex: PATTERN,
    replace: TEXT}`` or ``{path: NAME_OR_PATH, replace: TEXT}`` where a
    ``path`` is one of the names in ``places`` (``working_dir``,
    ``test_dir``) or a literal path; ``replace`` defaults to the empty
    string, ``line_by_line: true`` applies the entry to each line.
    """
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise RefinerError(f"refiners must be a list, not {type(entries).__name__}")
    result: list[Refiner] = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, Mapping):
            raise RefinerError(f"refiner {number}: expected a mapping, got {entry!r}")
        kinds = [k for k in ("substring", "regex", "path") if k in entry]
        if len(kinds) != 1:
            raise RefinerError(f"refiner {number}: expected exactly one of substring, regex, path in {dict(entry)!r}")
        replacement = str(entry.get("replace", ""))
        kind, value = kinds[0], str(entry[kinds[0]])
        refiner: Refiner
        if kind == "substring":
            refiner = Substitute(value, replacement)
        elif kind == "regex":
            try:
                refiner = ReplaceRegex(value, replacement)
            except re.error as exc:
                raise RefinerError(f"refiner {number}: invalid regex {value!r}: {exc}") from None
            try:
                # The template is checked on an empty text too (its groups against the
                # pattern's): a bad one is this entry's error, not "a refiner failed".
                refiner.regex.sub(replacement, "")
            except (re.error, IndexError) as exc:
                problem = exc.args[0] if isinstance(exc, IndexError) and exc.args else exc
                raise RefinerError(
                    f"refiner {number}: invalid replace {replacement!r} for regex {value!r}: {problem}"
                ) from None
        else:
            refiner = ReplacePath(places.get(value, value), replacement)
        if entry.get("line_by_line"):
            refiner = LineByLine(refiner)
        result.append(refiner)
    return result
