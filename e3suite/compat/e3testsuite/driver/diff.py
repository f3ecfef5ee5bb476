"""e3-testsuite's DiffTestDriver and output refiners.

``DiffTestDriver`` compares ``self.output`` (what ``shell`` calls
printed) with a baseline: ``baseline_file`` is ``(filename, is_regexp)``
relative to the test directory (``test.out`` by default, test.yaml's
``baseline_file`` / ``baseline_regexp``), ``baseline`` reads it,
``output_refiners`` refine the output and, since 27.x's
``refine_baseline`` is True, the baseline too; the diff is e3-core's
``e3.diff.diff`` (``diff_ignore_white_chars``, ``diff_context_size``).
With ``env.rewrite_baselines`` set, a differing baseline is rewritten.
Refiners (``refine(output)``) are plain text processing. This module never
runs commands itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from re import Match, Pattern
from typing import Any, AnyStr, Generic

from e3.diff import diff

from e3suite.compat.e3testsuite.driver.classic import ClassicTestDriver, TestAbortWithError
from e3suite.compat.e3testsuite.result import FailureReason, Log, binary_repr, truncated
from e3suite.compat.e3testsuite.utils import indent


class OutputRefiner(Generic[AnyStr]):
    """Turns an output (or a baseline) into what is compared."""

    def refine(self, output: AnyStr) -> AnyStr:
        raise NotImplementedError


class RefiningChain(OutputRefiner[AnyStr]):
    """Several refiners, in order."""

    def __init__(self, refiners: list[OutputRefiner[Any]]) -> None:
        self.refiners = refiners

    def refine(self, output: AnyStr) -> AnyStr:
        for refiner in self.refiners:
            output = refiner.refine(output)
        return output


class Substitute(OutputRefiner[AnyStr]):
    """Replace every ``substring`` with ``replacement`` (default: remove it)."""

    def __init__(self, substring: AnyStr, replacement: AnyStr | None = None) -> None:
        self.substring: AnyStr = substring
        self.replacement: AnyStr = replacement or type(substring)()

    def refine(self, output: AnyStr) -> AnyStr:
        return output.replace(self.substring, self.replacement)


class CanonicalizeLineEndings(OutputRefiner[AnyStr]):
    r"""``\r\n`` becomes ``\n``."""

    def refine(self, output: AnyStr) -> AnyStr:
        if isinstance(output, str):
            return output.replace("\r\n", "\n")
        return output.replace(b"\r\n", b"\n")


class ReplacePath(RefiningChain[str]):
    """Replace a path: its real path, its Unix spelling and as given."""

    def __init__(self, path: str, replacement: str = "") -> None:
        spellings = [os.path.realpath(path), path.replace("\\", "/"), path]
        super().__init__([Substitute(s, replacement) for s in spellings])


class PatternSubstitute(OutputRefiner[AnyStr]):
    """``re.sub(pattern, replacement)``; ``replacement`` may be a function of the match."""

    def __init__(
        self, pattern: AnyStr, replacement: AnyStr | Callable[[Match[AnyStr]], AnyStr] | None = None
    ) -> None:
        self.regexp: Pattern[AnyStr] = re.compile(pattern)
        self.replacement: Any = replacement or type(pattern)()

    def refine(self, output: AnyStr) -> AnyStr:
        return self.regexp.sub(self.replacement, output)


class LineByLine(OutputRefiner[AnyStr]):
    """Apply ``refiner`` to each line (line ends kept) separately."""

    def __init__(self, refiner: OutputRefiner[Any]) -> None:
        self.refiner = refiner

    def refine(self, output: AnyStr) -> AnyStr:
        lines = [self.refiner.refine(line) for line in output.splitlines(keepends=True)]
        return output[:0].join(lines)


class DiffTestDriver(ClassicTestDriver):
    """Compare the output of the testcase with a baseline."""

    @property
    def rewrite_baseline(self) -> bool:
        return (
            self.baseline_file is not None
            and not self.test_control.xfail
            and bool(getattr(self.env, "rewrite_baselines", False))
        )

    @property
    def baseline_file(self) -> tuple[str, bool]:
        return self.test_env.get("baseline_file", "test.out"), bool(self.test_env.get("baseline_regexp", False))

    @property
    def baseline(self) -> tuple[str | None, str | bytes, bool]:
        binary = self.default_encoding == "binary"
        filename, is_regexp = self.baseline_file
        filename = self.test_dir(filename)
        if self.rewrite_baseline and not os.path.isfile(filename):
            return filename, b"" if binary else "", is_regexp
        try:
            if binary:
                with open(filename, "rb") as f:
                    content: str | bytes = f.read()
            else:
                with open(filename, encoding=self.default_encoding) as f:
                    content = f.read()
        except Exception as exc:
            raise TestAbortWithError(f"cannot read baseline file ({type(exc).__name__}: {exc})") from exc
        return filename, content, is_regexp

    @property
    def output_refiners(self) -> list[OutputRefiner[Any]]:
        return [] if self.test_env.get("strict_line_endings", False) else [CanonicalizeLineEndings()]

    @property
    def refine_baseline(self) -> bool:
        """Whether refiners apply to the baseline too: True, as in e3-testsuite 27.x's code."""
        return True

    @property
    def diff_ignore_white_chars(self) -> bool:
        return False

    @property
    def diff_context_size(self) -> int:
        return int(self.test_env.get("diff_context_size", 1))

    def set_up(self) -> None:
        super().set_up()
        self.failing_diff_count = 0

    def compute_diff(
        self,
        baseline_file: str | None,
        baseline: AnyStr,
        actual: AnyStr,
        failure_message: str = "unexpected output",
        ignore_white_chars: bool | None = None,
        context_size: int | None = None,
        truncate_logs_threshold: int | None = None,
    ) -> list[str]:
        """``[failure_message]`` when the refined ``actual`` differs from ``baseline``, else ``[]``."""
        if ignore_white_chars is None:
            ignore_white_chars = self.diff_ignore_white_chars
        if context_size is None:
            context_size = self.diff_context_size
        if truncate_logs_threshold is None:
            truncate_logs_threshold = int(getattr(self.testsuite_options, "truncate_logs", 200))
        refiners: RefiningChain[Any] = RefiningChain(self.output_refiners)
        refined_actual = refiners.refine(actual)
        refined_baseline = refiners.refine(baseline) if self.refine_baseline else baseline
        if isinstance(refined_actual, bytes):
            shown_actual, shown_baseline = binary_repr(refined_actual), binary_repr(refined_baseline)  # type: ignore[arg-type]
        else:
            shown_actual, shown_baseline = str(refined_actual), str(refined_baseline)
        text = diff(
            shown_baseline.splitlines(True), shown_actual.splitlines(True),
            ignore_white_chars=ignore_white_chars, context=context_size,
        )
        if not text:
            return []
        self.failing_diff_count = getattr(self, "failing_diff_count", 0) + 1
        message = failure_message
        if self.rewrite_baseline:
            assert baseline_file is not None
            if isinstance(refined_actual, str):
                with open(baseline_file, "w", encoding=self.default_encoding) as f:
                    f.write(refined_actual)
            else:
                with open(baseline_file, "wb") as fb:
                    fb.write(refined_actual)
            message = f"{message} (baseline updated)"
        diff_log = f"Diff failure: {message}\n{text.rstrip(chr(10))}\n"
        logged = "\n" + truncated(diff_log, truncate_logs_threshold)
        self.result.log += logged
        if not hasattr(self.result, "_logged_diffs"):  # a result class of the testsuite's own
            self.result._logged_diffs = []
        self.result._logged_diffs.append(logged)
        if self.failing_diff_count == 1:
            self.result.expected = Log(shown_baseline)
            self.result.out = Log(shown_actual)
            self.result.diff = Log(diff_log)
        else:
            self.result.expected = self.result.out = None
            self.result.diff = Log(f"{self.result.diff or ''}\n{diff_log}")
        return [message]

    def compute_regexp_match(
        self,
        regexp: Pattern[AnyStr] | AnyStr,
        actual: AnyStr,
        failure_message: str = "output does not match expected pattern",
        truncate_logs_threshold: int | None = None,
    ) -> list[str]:
        """``[failure_message]`` unless the refined ``actual`` fully matches ``regexp``."""
        pattern: Pattern[Any] = re.compile(regexp) if isinstance(regexp, (str, bytes)) else regexp
        if truncate_logs_threshold is None:
            truncate_logs_threshold = int(getattr(self.testsuite_options, "truncate_logs", 200))
        chain: RefiningChain[Any] = RefiningChain(self.output_refiners)
        refined: Any = chain.refine(actual)
        if pattern.fullmatch(refined):
            return []

        def quote(content: Any) -> str:
            return indent(binary_repr(content) if isinstance(content, bytes) else str(content))

        self.result.log += failure_message + ":\n"
        self.result.log += truncated(quote(refined), truncate_logs_threshold)
        self.result.log += "\nDoes not match the expected pattern:\n"
        self.result.log += truncated(quote(pattern.pattern), truncate_logs_threshold)
        return [failure_message]

    def compute_failures(self) -> list[str]:
        filename, baseline, is_regexp = self.baseline
        if is_regexp:
            failures = self.compute_regexp_match(baseline, self.output.log)
        else:
            failures = self.compute_diff(filename, baseline, self.output.log)
        if failures:
            self.result.failure_reasons.add(FailureReason.DIFF)
        return failures
