"""The diff of an output and its baseline: difflib's for small ones, about linear in time for large ones."""

from __future__ import annotations

import difflib
import random
import re

import pytest

import e3suite.drivers.diff as diff
from e3suite.drivers.diff import unified_diff


def _difflib(expected: str, actual: str, context: int) -> str:
    a, b = diff._lines(expected), diff._lines(actual)
    return "".join(difflib.unified_diff(a, b, fromfile="expected", tofile="actual", n=context))


def _patch(expected: str, text: str) -> list[str]:
    """``expected``'s lines with the unified diff ``text`` applied."""
    lines, out, pos = diff._lines(expected), [], 0
    rows = text.splitlines(keepends=True)[2:]
    k = 0
    while k < len(rows):
        header = re.match(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@\n", rows[k])
        assert header, rows[k]
        k += 1
        first, count = int(header.group(1)), int(header.group(2) or 1)
        start = first - 1 if count else first
        assert start >= pos
        out.extend(lines[pos:start])
        pos = start
        while k < len(rows) and not rows[k].startswith("@@"):
            tag, body = rows[k][0], rows[k][1:]
            if k + 1 < len(rows) and rows[k + 1] == "\\ No newline at end of file\n":
                body += rows[k + 1]
                k += 1
            k += 1
            if tag == " ":
                assert lines[pos] == body
                out.append(body)
                pos += 1
            elif tag == "-":
                assert lines[pos] == body
                pos += 1
            else:
                out.append(body)
    out.extend(lines[pos:])
    return out


def test_small_diffs_are_difflibs_byte_for_byte() -> None:
    rng = random.Random(7)
    alphabet = [f"{c}\n" for c in "abcdefg"]
    for _ in range(3000):
        expected = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) + rng.choice(["", "end"])
        actual = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) + rng.choice(["", "end"])
        context = rng.choice([0, 1, 3, 5])
        assert unified_diff(expected, actual, context) == _difflib(expected, actual, context)


@pytest.mark.parametrize("context", [0, 3])
def test_long_equal_runs_split_hunks_as_difflib_does(context: int) -> None:
    rng = random.Random(3)
    lines = [f"line {i}\n" for i in range(400)]
    for _ in range(50):
        actual = [line if rng.random() > 0.05 else "other\n" for line in lines]
        expected, got = "".join(lines), "".join(actual)
        assert unified_diff(expected, got, context) == _difflib(expected, got, context)


CASES = {
    "every other line": lambda n: (
        [f"line {i}\n" for i in range(n)], [f"line {i}\n" if i % 2 else f"LINE {i}\n" for i in range(n)]
    ),
    "every 50th line": lambda n: (
        [f"line {i}\n" for i in range(n)], [f"line {i}\n" if i % 50 else "changed\n" for i in range(n)]
    ),
    "shuffled": lambda n: (
        [f"line {i}\n" for i in range(n)], [f"line {i}\n" for i in random.Random(n).sample(range(n), n)]
    ),
    "repeated lines": lambda n: (["ok\n"] * n, ["ok\n"] * (n // 3) + ["fail\n"] + ["ok\n"] * (n - n // 3) + ["x"]),
    "no final newline": lambda n: ([f"l {i}\n" for i in range(n)], [f"l {i}\n" for i in range(n) if i % 3] + ["end"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_large_diffs_are_correct(case: str) -> None:
    a, b = CASES[case](20_000)
    expected, actual = "".join(a), "".join(b)
    text = unified_diff(expected, actual)
    assert text.startswith("--- expected\n+++ actual\n@@ ")
    assert _patch(expected, text) == diff._lines(actual)


def _work(monkeypatch: pytest.MonkeyPatch, n: int) -> int:
    """Lines difflib's matcher scans (its cost) for an n-line output with every other line changed."""
    scanned = 0
    find = difflib.SequenceMatcher.find_longest_match

    def counting(self: difflib.SequenceMatcher, alo: int = 0, ahi: int | None = None,
                 blo: int = 0, bhi: int | None = None) -> difflib.Match:
        nonlocal scanned
        scanned += (len(self.a) if ahi is None else ahi) - alo
        return find(self, alo, ahi, blo, bhi)  # type: ignore[arg-type]

    monkeypatch.setattr(difflib.SequenceMatcher, "find_longest_match", counting)
    a, b = CASES["every other line"](n)
    unified_diff("".join(a), "".join(b))
    return scanned


def test_a_dense_diff_costs_about_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    # difflib alone scanned about n * n / 4 lines (4x per doubling): 100,000
    # lines with every other one changed took over 5 minutes.
    small, large = _work(monkeypatch, 4_000), _work(monkeypatch, 8_000)
    assert large < 20 * 8_000, large
    assert large / max(small, 1) < 3, (small, large)
