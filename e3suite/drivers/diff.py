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

import difflib
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
        # A subclass with its own run() reads its own keys and may not use
        # `cmd`: unless it declares a schema, check the baseline keys only.
        if "run" in cls.__dict__ and "test_yaml_schema" not in cls.__dict__:
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
            raise TestAbortWithError(f"test.yaml: {exc}") from None
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
        # An expected failure (XFAIL) says this output is wrong: not a baseline.
        if getattr(self.options, "rewrite", False) and not regexp and getattr(self, "expected_failure", None) is None:
            try:
                action = baseline.rewrite(info, actual)
            except baseline.BaselineError as exc:
                raise TestAbortWithError(str(exc)) from None
            self.result.info["rewrite"] = action.value
            message += f" (baseline {action.value})"
        failures.append(message)
        return failures

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


def unified_diff(expected: str, actual: str, context: int = 3) -> str:
    """A plain unified diff (no colours); a missing final newline is spelled out."""
    lines = difflib.unified_diff(
        _lines(expected), _lines(actual), fromfile="expected", tofile="actual", n=context
    )
    return "".join(lines)


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
