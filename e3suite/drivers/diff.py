"""DiffDriver: compare a testcase's output with a baseline file.

As a YAML-only test type (``driver: diff``) it runs ``cmd`` like ShellDriver,
checks ``status``, then compares the output with the baseline. As a base
class, a subclass overrides ``run()`` and calls ``self.shell(...)``: the
outputs of those calls are what is compared.

The output goes through ``output_refiners`` (line endings canonicalized,
then the ``refiners:`` of test.yaml; subclasses add their own), and so does
the baseline when ``refine_baseline`` is set. A mismatch is FAIL with the
DIFF failure reason and a unified diff (``expected``/``actual``) stored in
the result, with the refined output and the baseline's location, which is
what ``--rewrite`` and ``e3suite rewrite`` need. A regexp baseline
(``baseline_regexp: true``) must match the whole refined output.

The comparison sees the whole output (``ClassicDriver.shell`` reads past
the cap of ``CommandResult.output``) and the whole baseline; only what the
result stores for reports is capped (``STORED_TEXT_LIMIT``), and a capped
output is marked so that ``e3suite rewrite`` never writes it as a baseline.

This module never decides how commands run, and only writes a baseline
under ``--rewrite``.
"""

from __future__ import annotations

import bisect
import difflib
import itertools
import re
from pathlib import Path
from typing import Any, ClassVar

import e3suite.drivers.baseline as baseline
import e3suite.drivers.refiners as refiners
from e3suite.drivers.classic import TestAbortWithError
from e3suite.drivers.refiners import CanonicalizeLineEndings, Refiner, RefinerError
from e3suite.drivers.shell import SHELL_PROPERTIES, ShellDriver
from e3suite.model import FailureReason

DEFAULT_BASELINE = "test.out"
#: Characters of the output, the baseline and the diff a result keeps (head
#: and tail): records and reports stay small, the comparison is not affected.
STORED_TEXT_LIMIT = 1_000_000

BASELINE_PROPERTIES: dict[str, Any] = {
    "baseline": {"type": "string", "minLength": 1, "description": "the baseline file, relative to the test directory"},
    "baseline_regexp": {"type": "boolean", "description": "the baseline is a regexp matching the whole output"},
    "refiners": {**refiners.YAML_SCHEMA, "description": "substitutions applied to the output, in order"},
    "refine_baseline": {"type": "boolean", "description": "apply the refiners to the baseline too"},
    "diff_context": {"type": "integer", "minimum": 0, "description": "context lines of the diff (default 3)"},
}


class DiffDriver(ShellDriver):
    """Run ``cmd`` (or the subclass's ``run``); compare the output with a baseline."""

    test_yaml_schema: ClassVar[dict[str, Any]] = {
        "properties": {**SHELL_PROPERTIES, **BASELINE_PROPERTIES},
        "required": ["cmd"],
    }

    #: compare with a full-match regular expression instead of text
    baseline_regexp: bool = False
    #: apply ``output_refiners`` to the baseline as well
    refine_baseline: bool = False
    #: lines of context in the unified diff
    diff_context: int = 3

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("test_yaml_schema")
        if declared is not None and isinstance(declared.get("properties", {}), dict):
            # The keys a subclass declares come on top of those DiffDriver itself
            # reads (baseline, refiners, ...; and cmd, status, ... unless it has a
            # run() of its own): the comparison and its refiners stay "for free".
            own_run = cls.run is not ShellDriver.run
            base = dict(BASELINE_PROPERTIES) if own_run else {**SHELL_PROPERTIES, **BASELINE_PROPERTIES}
            merged = {**declared, "properties": {**base, **declared.get("properties", {})}}
            required = list(declared.get("required", [])) + ([] if own_run else ["cmd"])
            if required:
                merged["required"] = list(dict.fromkeys(required))
            cls.test_yaml_schema = merged
        elif "run" in cls.__dict__ and declared is None:
            # A subclass with its own run() reads its own keys and may not use
            # `cmd`: unless it declares a schema, check the baseline keys only.
            cls.test_yaml_schema = {"properties": dict(BASELINE_PROPERTIES), "additionalProperties": True}

    # -- what subclasses may override ------------------------------------------

    @property
    def baseline_file(self) -> tuple[Path, bool]:
        """(path, optional): the default ``test.out`` is optional (missing = no output)."""
        name = self.test_env.get("baseline")
        if name is None:
            return self.test_dir / DEFAULT_BASELINE, True
        return self.test_dir / str(name), False

    @property
    def output_refiners(self) -> list[Refiner]:
        """Refiners applied to the output, in order (extend this list)."""
        places = {"working_dir": self.working_dir, "test_dir": self.test_dir}
        try:
            from_yaml = refiners.from_yaml(self.test_env.get("refiners"), places)
        except RefinerError as exc:
            # Named as every other problem of a test.yaml is: by its path.
            raise TestAbortWithError(f"{self.test_dir / 'test.yaml'}: {exc}") from None
        return [CanonicalizeLineEndings(), *from_yaml]

    # -- the comparison ----------------------------------------------------------

    def compute_failures(self) -> list[str]:
        failures = super().compute_failures()
        path, optional = self.baseline_file
        regexp = bool(self.test_env.get("baseline_regexp", self.baseline_regexp))
        shown = _shown(path, self.test_dir)
        try:
            baseline.check_inside(path, self.test_dir, shown)
        except baseline.BaselineError as exc:
            raise TestAbortWithError(str(exc)) from None
        info = baseline.BaselineInfo(str(path.absolute()), optional, regexp, str(self.test_dir.absolute()))
        output_refiners = self.output_refiners
        actual = self._refine(output_refiners, self.output)
        try:
            expected_text = baseline.read_baseline(path)
        except baseline.BaselineError as exc:
            raise TestAbortWithError(str(exc)) from None
        missing = expected_text is None
        expected = expected_text or ""
        if self.test_env.get("refine_baseline", self.refine_baseline):
            expected = self._refine(output_refiners, expected)
        else:
            expected = CanonicalizeLineEndings()(expected)
        self.result.info["baseline"] = info.to_json()
        self.result.out = stored_text(actual)
        self.result.expected = stored_text(expected)
        if len(actual) > STORED_TEXT_LIMIT:
            # `e3suite rewrite` works from the record: it must know this is not the output.
            self.result.info["out_truncated"] = len(actual)
        if regexp and not missing:
            try:
                matched = re.fullmatch(expected, actual) is not None
            except re.error as exc:
                raise TestAbortWithError(f"invalid regexp baseline {shown}: {exc}") from None
        else:
            matched = actual == expected and not (missing and not optional)
        if matched:
            return failures
        self.result.failure_reasons.add(FailureReason.DIFF)
        self.result.diff = stored_text(
            unified_diff(expected, actual, int(self.test_env.get("diff_context", self.diff_context)))
        )
        if missing and (actual or not optional):
            message = f"missing baseline {shown}"
        else:
            message = f"output differs from {shown}"
        if failures:
            # The command itself failed (its exit status): what it printed then (an
            # error) is no baseline, for --rewrite nor for `e3suite rewrite` later.
            self.result.info[baseline.NOT_REWRITABLE] = "wrong exit status"
        if getattr(self.options, "rewrite", False):
            message += self._rewrite(info, actual, bool(failures))
        failures.append(message)
        return failures

    def _rewrite(self, info: baseline.BaselineInfo, actual: str, command_failed: bool) -> str:
        """Under --rewrite: write the baseline (or leave it to the end of the run); what the message adds."""
        if info.regexp:
            return " (baseline not rewritten: a regexp)"
        if command_failed:
            return " (baseline not rewritten: wrong exit status)"
        if getattr(self, "expected_failure", None) is not None:
            return ""  # an expected failure (XFAIL) says this output is wrong: not a baseline
        try:
            if self.matrix and len(actual) <= STORED_TEXT_LIMIT:
                # The variants of a matrix share this baseline: written now, it would be
                # what the variants still to run compare with (their verdicts would hang
                # on the order of the run). The end of the run writes it from the
                # result's `out`, once, unless the variants disagree (e3suite.rewrite).
                baseline.check_rewritable(info)
                planned = baseline.planned_action(info, actual)
                self.result.info["rewrite"] = baseline.PENDING
                return f" (baseline to be {planned.value} at the end of the run)"
            action = baseline.rewrite(info, actual)
        except baseline.BaselineError as exc:
            raise TestAbortWithError(str(exc)) from None
        self.result.info["rewrite"] = action.value
        return f" (baseline {action.value})"

    @staticmethod
    def _refine(output_refiners: list[Refiner], text: str) -> str:
        try:
            return refiners.apply(output_refiners, text)
        except (re.error, IndexError) as exc:  # a bad group reference in a `replace`
            raise TestAbortWithError(f"a refiner failed: {exc}") from None


def stored_text(text: str, limit: int = STORED_TEXT_LIMIT) -> str:
    """``text`` as a result stores it: its head and tail when longer than ``limit`` characters."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters omitted ...]\n{text[-half:]}"


#: Up to this many pairs of lines (expected x actual), difflib's matcher
#: compares them; beyond, its cost grows with their product (a 100,000-line
#: output with every other line changed took over 5 minutes), and the lines
#: are matched on anchors first (see _matching_blocks).
DIFFLIB_PAIRS = 1_000_000
#: ... and between two anchors, up to this many.
GAP_PAIRS = 100_000

Block = tuple[int, int, int]  # (i, j, n): expected[i:i+n] == actual[j:j+n]
Opcode = tuple[str, int, int, int, int]


def unified_diff(expected: str, actual: str, context: int = 3) -> str:
    """A plain unified diff (no colours); a missing final newline is spelled out.

    Labelled ``expected`` and ``actual``. Up to DIFFLIB_PAIRS pairs of
    lines, the lines are matched by difflib's SequenceMatcher, as always;
    larger ones in a time about linear in their size (see _matching_blocks).
    """
    a, b = _lines(expected), _lines(actual)
    if a == b:
        return ""
    if len(a) * len(b) <= DIFFLIB_PAIRS:
        matched = difflib.SequenceMatcher(None, a, b).get_matching_blocks()[:-1]
        blocks: list[Block] = [(m.a, m.b, m.size) for m in matched]
    else:
        blocks = _matching_blocks(a, b)
    out = ["--- expected\n", "+++ actual\n"]
    for group in _hunks(_opcodes(blocks, len(a), len(b)), context):
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(" " + line for line in a[i1:i2])
                continue
            out.extend("-" + line for line in a[i1:i2])
            out.extend("+" + line for line in b[j1:j2])
    return "".join(out)


def _matching_blocks(a: list[str], b: list[str]) -> list[Block]:
    """Equal runs of ``a`` and ``b``, in order, for long inputs.

    Within each range still to match: the common first and last lines are
    equal runs; a range small enough (GAP_PAIRS) goes to difflib; a larger
    one is cut at anchors, the lines that occur once in each side, the
    longest run of them in the same order on both (patience sorting), and
    each stretch between two anchors is a range of its own. A large range
    with no anchor is a replacement (a correct diff, maybe not the smallest).
    """
    blocks: list[Block] = []
    todo = [(0, len(a), 0, len(b))]
    while todo:
        alo, ahi, blo, bhi = todo.pop()
        while alo < ahi and blo < bhi and a[alo] == b[blo]:
            blocks.append((alo, blo, 1))
            alo, blo = alo + 1, blo + 1
        while alo < ahi and blo < bhi and a[ahi - 1] == b[bhi - 1]:
            ahi, bhi = ahi - 1, bhi - 1
            blocks.append((ahi, bhi, 1))
        if alo == ahi or blo == bhi:
            continue
        if (ahi - alo) * (bhi - blo) <= GAP_PAIRS:
            matcher = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi])
            blocks.extend((alo + i, blo + j, n) for i, j, n in matcher.get_matching_blocks() if n)
            continue
        anchors = _anchors(a, alo, ahi, b, blo, bhi)
        if not anchors:
            continue  # a replacement
        for i, j in anchors:
            blocks.append((i, j, 1))
        ends = [(alo - 1, blo - 1), *anchors, (ahi, bhi)]
        todo.extend((i + 1, next_i, j + 1, next_j) for (i, j), (next_i, next_j) in itertools.pairwise(ends))
    blocks.sort()
    merged: list[Block] = []
    for i, j, n in blocks:
        if merged and merged[-1][0] + merged[-1][2] == i and merged[-1][1] + merged[-1][2] == j:
            merged[-1] = (merged[-1][0], merged[-1][1], merged[-1][2] + n)
        else:
            merged.append((i, j, n))
    return merged


def _anchors(a: list[str], alo: int, ahi: int, b: list[str], blo: int, bhi: int) -> list[tuple[int, int]]:
    """(i, j) of lines found once in a[alo:ahi] and once in b[blo:bhi], the longest run in the same order."""
    seen_a: dict[str, int] = {}
    for i in range(alo, ahi):
        seen_a[a[i]] = -1 if a[i] in seen_a else i
    seen_b: dict[str, int] = {}
    for j in range(blo, bhi):
        line = b[j]
        if seen_a.get(line, -1) >= 0:
            seen_b[line] = -1 if line in seen_b else j
    pairs = [(seen_a[line], j) for line, j in seen_b.items() if j >= 0]
    pairs.sort()
    # Longest increasing run of j (i increases already): patience sorting.
    tops: list[int] = []  # tops[k]: the smallest j ending a run of k + 1
    top_pair: list[int] = []  # index in pairs of that j
    back: list[int] = []  # index in pairs of the pair before it in its run
    for index, (_, j) in enumerate(pairs):
        k = bisect.bisect_left(tops, j)
        back.append(top_pair[k - 1] if k else -1)
        if k == len(tops):
            tops.append(j)
            top_pair.append(index)
        else:
            tops[k], top_pair[k] = j, index
    run: list[tuple[int, int]] = []
    index = top_pair[-1] if top_pair else -1
    while index >= 0:
        run.append(pairs[index])
        index = back[index]
    run.reverse()
    return run


def _opcodes(blocks: list[Block], len_a: int, len_b: int) -> list[Opcode]:
    """What turns a into b, block by block: equal, replace, delete, insert."""
    opcodes: list[Opcode] = []
    i = j = 0
    for block_i, block_j, n in [*blocks, (len_a, len_b, 0)]:
        if i < block_i and j < block_j:
            opcodes.append(("replace", i, block_i, j, block_j))
        elif i < block_i:
            opcodes.append(("delete", i, block_i, j, j))
        elif j < block_j:
            opcodes.append(("insert", i, i, j, block_j))
        i, j = block_i + n, block_j + n
        if n:
            opcodes.append(("equal", block_i, i, block_j, j))
    return opcodes


def _hunks(opcodes: list[Opcode], context: int) -> list[list[Opcode]]:
    """The opcodes in hunks: changes with ``context`` equal lines around them, close ones together.

    Equal runs at either end keep the ``context`` lines next to a change; one
    between two changes longer than twice the context ends a hunk.
    """
    ops = list(opcodes)
    if ops and ops[0][0] == "equal":
        tag, i1, i2, j1, j2 = ops[0]
        ops[0] = (tag, max(i1, i2 - context), i2, max(j1, j2 - context), j2)
    if ops and ops[-1][0] == "equal":
        tag, i1, i2, j1, j2 = ops[-1]
        ops[-1] = (tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context))
    hunks: list[list[Opcode]] = []
    hunk: list[Opcode] = []
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal" and i2 - i1 > 2 * context:
            hunk.append((tag, i1, i1 + context, j1, j1 + context))
            hunks.append(hunk)
            hunk = []
            i1, j1 = i2 - context, j2 - context
        hunk.append((tag, i1, i2, j1, j2))
    if hunk and not (len(hunk) == 1 and hunk[0][0] == "equal"):
        hunks.append(hunk)
    return hunks


def _range(start: int, stop: int) -> str:
    """A unified diff's range: ``first,count``, ``first`` alone for one line, ``before,0`` for none."""
    count = stop - start
    if count == 1:
        return str(start + 1)
    return f"{start + 1 if count else start},{count}"


def _lines(text: str) -> list[str]:
    lines = refiners.lines(text)  # LF only: a lone CR is content, shown in the diff line
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def _shown(path: Path, test_dir: Path) -> str:
    try:
        return path.relative_to(test_dir).as_posix()
    except ValueError:
        return str(path)
