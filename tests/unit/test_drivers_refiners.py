"""Output refiners, alone and from their YAML form."""

from __future__ import annotations

from pathlib import Path

import pytest

from e3suite.drivers.refiners import (
    CanonicalizeLineEndings,
    LineByLine,
    RefinerError,
    ReplacePath,
    ReplaceRegex,
    Substitute,
    apply,
    from_yaml,
)


def test_substitute_and_regex() -> None:
    assert Substitute("abc", "X")("abc-abc") == "X-X"
    assert Substitute("", "X")("abc") == "abc"
    assert ReplaceRegex(r"(\d+)ms", r"<\1>")("took 12ms, 3ms") == "took <12>, <3>"


def test_replace_path_spellings(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    refiner = ReplacePath(link, "<WD>")
    text = f"{link}/a {real}/b {str(link).replace('/', chr(92))}\\c"
    assert refiner(text) == "<WD>/a <WD>/b <WD>\\c"


def test_line_endings_and_line_by_line() -> None:
    # Only CRLF is a line ending to canonicalize; a lone CR is content (docs/drivers.md).
    assert CanonicalizeLineEndings()("a\r\nb\rc\n") == "a\nb\rc\n"
    first_word = LineByLine(ReplaceRegex(r"^(\w+) .*$", r"\1"))
    assert first_word("ab cd\r\nef gh\nlast one") == "ab\r\nef\nlast"
    # Nor do a lone CR, a form feed or U+2028 cut lines, as str.splitlines would.
    assert first_word("ab cd\rxy z\nef \x0c gh\u2028ij\n") == "ab\nef\n"


def test_apply_in_order() -> None:
    assert apply([Substitute("a", "b"), Substitute("b", "c")], "a") == "c"


def test_from_yaml(tmp_path: Path) -> None:
    refiners = from_yaml(
        [
            {"path": "working_dir", "replace": "<WD>"},
            {"regex": r"v(\d)\.\d", "replace": r"v\1.x"},
            {"substring": "secret"},
            {"path": "/opt/tool", "replace": "<TOOL>"},
            {"regex": "^#.*$", "replace": "", "line_by_line": True},
        ],
        {"working_dir": tmp_path},
    )
    text = f"{tmp_path}/x v2.7 secret /opt/tool/bin\n# comment\n"
    assert apply(refiners, text) == "<WD>/x v2.x  <TOOL>/bin\n\n"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("x", "refiners must be a list"),
        (["x"], "refiner 1: expected a mapping"),
        ([{"regex": "a", "substring": "b"}], "refiner 1: expected exactly one of substring, regex, path"),
        ([{"regex": "("}], "refiner 1: invalid regex '('"),
    ],
)
def test_from_yaml_errors(entries: object, message: str) -> None:
    with pytest.raises(RefinerError) as info:
        from_yaml(entries, {})
    assert message in str(info.value)


def test_unified_diff_context_is_configurable() -> None:
    from e3suite.drivers.diff import unified_diff

    expected = "".join(f"{i}\n" for i in range(10))
    actual = expected.replace("5\n", "five\n")
    assert unified_diff(expected, actual, context=1) == "--- expected\n+++ actual\n@@ -5,3 +5,3 @@\n 4\n-5\n+five\n 6\n"
    assert unified_diff(expected, actual, context=0) == "--- expected\n+++ actual\n@@ -6 +6 @@\n-5\n+five\n"
    assert unified_diff(expected, expected) == ""
