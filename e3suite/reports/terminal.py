"""What a person reads in the terminal: one line per testcase, then a summary.

The same functions print a live run and ``e3suite report``, so both show the
same thing. Colours come from colorama and only on a terminal: files and
pipes never get ANSI codes. This module never reads the results directory
itself; it formats the results it is given.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterable
from typing import TextIO

import colorama

from e3suite.model import TestResult, TestStatus, summary_counts

_COLOURS = {
    TestStatus.PASS: colorama.Fore.GREEN,
    TestStatus.XFAIL: colorama.Fore.CYAN,
    TestStatus.XPASS: colorama.Fore.YELLOW,
    TestStatus.VERIFY: colorama.Fore.YELLOW,
    TestStatus.FAIL: colorama.Fore.RED,
    TestStatus.ERROR: colorama.Fore.RED + colorama.Style.BRIGHT,
    TestStatus.SKIP: colorama.Fore.BLUE,
    TestStatus.NOT_APPLICABLE: colorama.Fore.BLUE,
}


def use_colour(stream: TextIO, no_color: bool = False) -> bool:
    """Colours only on a terminal, and never when NO_COLOR or --no-color say so."""
    if no_color or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def status_text(status: TestStatus | None, colour: bool) -> str:
    name = status.value if status else "?"
    padded = f"{name:<6}"
    if colour and status is not None:
        return f"{_COLOURS[status]}{padded}{colorama.Style.RESET_ALL}"
    return padded


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}m{secs:04.1f}s"


def result_line(result: TestResult, colour: bool = False, show_time: bool = True) -> str:
    """``PASS   a/b: message (0.12s)`` (the message and duration when known)."""
    line = f"{status_text(result.status, colour)} {result.test_id}"
    if result.message:
        line += f": {result.message}"
    if show_time and result.duration is not None:
        line += f" ({format_duration(result.duration)})"
    return line


def indented_log(result: TestResult) -> str:
    text = result.log.rstrip("\n")
    if result.diff and result.diff not in text:
        text = (text + "\n" if text else "") + result.diff.rstrip("\n")
    if not text:
        return ""
    return "\n".join("    | " + line for line in text.split("\n")) + "\n"


def count_line(statuses: Iterable[TestStatus]) -> str:
    """Counts per verdict, in the order of TestStatus: ``3 PASS, 1 FAIL``."""
    counts = Counter(statuses)
    parts = [f"{counts[s]} {s.value}" for s in TestStatus if counts[s]]
    return "e3suite: " + (", ".join(parts) if parts else "no testcase")


def summary_line(statuses: Iterable[TestStatus]) -> str:
    """The last line of every run, alone: ``e3suite: P passed, F failed, S skipped``."""
    passed, failed, skipped = summary_counts(list(statuses))
    return f"e3suite: {passed} passed, {failed} failed, {skipped} skipped"


class TerminalReporter:
    """Prints results as they arrive, then the summary."""

    def __init__(
        self,
        stream: TextIO | None = None,
        quiet: bool = False,
        verbose: bool = False,
        show_error_output: bool | None = None,
        no_color: bool = False,
    ) -> None:
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.verbose = verbose
        self.colour = use_colour(self.stream, no_color)
        if show_error_output is None:
            # CI wants failing logs in the job output; a person at a terminal
            # gets them on request (-E) and in the results directory.
            show_error_output = not (getattr(self.stream, "isatty", None) and self.stream.isatty())
        self.show_error_output = show_error_output
        if self.colour:
            colorama.just_fix_windows_console()

    def write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def test_finished(self, result: TestResult) -> None:
        status = result.status
        failing = status is not None and status.is_failure
        if self.quiet and not failing:
            return
        text = result_line(result, self.colour) + "\n"
        if self.verbose or (failing and self.show_error_output):
            text += indented_log(result)
        self.write(text)

    def summary(self, results: list[TestResult]) -> None:
        statuses = [r.status for r in results if r.status is not None]
        failures = [r for r in results if r.status is not None and r.status.is_failure]
        lines = []
        if failures and len(results) > 1:
            lines.append("failures:")
            lines.extend("  " + result_line(r, self.colour) for r in failures)
        lines.append(count_line(statuses))
        lines.append(summary_line(statuses))
        self.write("\n".join(lines) + "\n")
