"""What a person reads in the terminal: one line per testcase, then a summary.

The same functions print a live run and ``e3suite report``, so both show the
same thing. Colours come from colorama and only on a terminal: files and
pipes never get ANSI codes. Text that comes from tests (ids, messages,
logs: command output) is escaped as the HTML report escapes it: control
characters become ``\x1b``, ``\r``, ``\n`` spelled out, so that a command
printing escape sequences cannot redraw, recolour or retitle the user's
terminal, and one testcase stays one line. Ids and messages are escaped
everywhere (a newline would break the line they are on); logs only on a
terminal, so that a log file keeps the bytes the command wrote. This module
never reads the results directory itself; it formats the results it is
given.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import shlex
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, TextIO

from e3suite.events import AttemptFailed, RunStopping, Sink, TestFinished
from e3suite.model import NOT_RUN_PREFIX, FailureReason, TestResult, TestStatus, summary_counts
from e3suite.options import DEFAULT_LOG_LINES

if TYPE_CHECKING:
    from e3suite.reports.compare import Change, Comparison

#: The summary lists the slowest testcases when one took at least this long
#: (always with --show-time). Below it the list is noise, and its order would
#: change from run to run.
SLOW_SUMMARY_SECONDS = 10.0
SLOWEST_COUNT = 10
#: Entries shown per comparison category; the rest is counted.
MAX_CHANGES_SHOWN = 20
#: A run's terminal shows a log, and a diff, as their first and last
#: ``--log-lines`` lines (DEFAULT_LOG_LINES), and each end as at most this
#: many characters a line: a test whose output differed on each of a million
#: lines printed a 2 MB diff and its output, and a 50 MB output on one line
#: is shown as its first and last characters. ``e3suite report -E`` prints
#: them as the results directory keeps them (records and reports unchanged).
LOG_LINE_CHARS = 200

def _colorama() -> ModuleType:
    # Imported when colours are on (a terminal): CI logs and -q runs start without it.
    import colorama

    module: ModuleType = colorama
    return module


def _colour(status: TestStatus) -> str:
    """The ANSI prefix of a verdict, from its row of RESULT_CODES (``RED+BRIGHT``)."""
    prefix = ""
    for name in status.code.colour.split("+"):
        prefix += str(getattr(_colorama().Style, name, None) or getattr(_colorama().Fore, name, ""))
    return prefix


@functools.cache
def _escape_table(keep: str) -> dict[int, str]:
    """What ``str.translate`` escapes (2,000 entries: made at the first text that needs it, not at start-up)."""
    controls = [*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029]  # the last two: line breaks to some
    # Lone surrogates (a file name that is not UTF-8, as os.listdir decodes it): no stream can write them.
    controls += range(0xD800, 0xE000)
    return {c: ascii(chr(c))[1:-1] for c in controls if chr(c) not in keep}


def printable(text: str, keep_newlines: bool = False) -> str:
    """``text`` with its control characters spelled out (``\x1b``, ``\r``, ``\n`` unless kept)."""
    if text.isprintable():
        return text  # the common case, at C speed
    return text.translate(_escape_table("\t\n" if keep_newlines else "\t"))


def _fit(line: str, columns: int | None) -> str:
    """``line`` cut to stay within ``columns - 1`` (the last column would wrap some terminals), ``...`` at its end."""
    if columns is None or len(line) < columns:
        return line
    room = columns - 1
    return line[: room - 3] + "..." if room > 3 else line[:room]


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
        return f"{_colour(status)}{padded}{_colorama().Style.RESET_ALL}"
    return padded


def status_label(label: str, colour: bool) -> str:
    """A word in the verdict column that is no verdict (RETRY)."""
    padded = f"{label:<6}"
    return f"{_colorama().Fore.MAGENTA}{padded}{_colorama().Style.RESET_ALL}" if colour else padded


def shuffle_line(seed: int) -> str:
    """What a ``--shuffle`` run prints first (and ``e3suite report`` of it again)."""
    return f"e3suite: testcases in a random order: --shuffle-seed {seed} starts them in it again\n"


def format_duration(seconds: float | None) -> str:
    """``0.12s``, ``1m05.3s``: rounded first, so that 59.999 is ``1m00.0s`` and 119.96 ``2m00.0s`` (not ``1m60.0s``)."""
    if seconds is None:
        return ""
    if round(seconds, 2) < 60:
        return f"{seconds:.2f}s"
    minutes, tenths = divmod(round(seconds * 10), 600)
    return f"{minutes}m{tenths / 10:04.1f}s"


def result_line(result: TestResult, colour: bool = False, show_time: bool = False) -> str:
    """``PASS   a/b: message`` (+ `` (0.12s, cpu 0.05s, 3.1 MiB)`` with ``show_time``, when known)."""
    if result.status is None and result.message in ("running", "waiting"):  # a live run's, read back
        return f"{status_label(result.message.upper(), colour)} {printable(result.test_id)}"
    line = f"{status_text(result.status, colour)} {printable(result.test_id)}"
    if result.message:
        line += f": {printable(result.message)}"
    if result.attempts:
        line += f" ({result.attempts_note})"
    if result.carried_over:
        line += " (carried over)"
    if FailureReason.LEAK in result.failure_reasons:
        line += " [LEAK]"  # processes it left running were killed (see its log)
    if show_time and result.duration is not None:
        line += f" ({format_duration(result.duration)}{resource_text(result)})"
    return line


def resource_text(result: TestResult) -> str:
    """``, cpu 0.05s, 12.3 MiB``: what its commands used, when known."""
    text = ""
    if result.cpu_time is not None:
        text += f", cpu {format_duration(result.cpu_time)}"
    if result.peak_rss is not None:
        text += f", {result.peak_rss / 2**20:.1f} MiB"
    return text


def indented_log(result: TestResult, escape: bool = False, lines: int = 0, hint: str | None = None) -> str:
    """The log (and the diff) under a result line; ``escape`` for a terminal (see the module's docstring).

    ``lines``: the log and the diff are each cut to their first and last
    ``lines`` lines (see ``cut_lines``; 0: shown whole), ``hint`` saying
    where the whole of them is.
    """
    from e3suite.reports.data import display_log  # not at start-up: a run that passes never needs it

    text = display_log(result).rstrip("\n")
    diff = result.diff.rstrip("\n") if result.diff and result.diff not in text else ""
    if lines:
        text, diff = cut_lines(text, lines, "log", hint), cut_lines(diff, lines, "diff", hint)
    if diff:
        text = (text + "\n" if text else "") + diff
    if not text:
        return ""
    if escape:
        text = printable(text, keep_newlines=True)
    return "\n".join("    | " + line for line in text.split("\n")) + "\n"


def cut_lines(text: str, lines: int, what: str = "log", hint: str | None = None) -> str:
    """``text`` as its first and last ``lines`` lines (at most ``lines * LOG_LINE_CHARS`` characters each),
    and one line between them that counts what is left out and says where it is (``hint``).

    Head and tail, as the captured output of a command keeps them and as
    ``--truncate-logs`` cuts e3-testsuite logs: a diff starts with its first
    difference, a log ends with how it failed.
    """
    budget = lines * LOG_LINE_CHARS
    if len(text) <= 2 * budget and text.count("\n") < 2 * lines:
        return text
    head_end = -1
    for _ in range(lines):
        head_end = text.find("\n", head_end + 1)
        if head_end < 0:
            head_end = len(text)
            break
    head_end = min(head_end, budget)
    tail_start = len(text)
    for _ in range(lines):
        tail_start = text.rfind("\n", 0, tail_start)
        if tail_start < 0:
            break
    tail_start = max(tail_start + 1, len(text) - budget)
    if tail_start <= head_end:
        return text
    head, tail = text[:head_end], text[tail_start:]
    # Lines not shown whole: a line cut by the character budget counts.
    whole = head.count("\n") + (text[head_end] == "\n") + tail.count("\n") + (text[tail_start - 1] == "\n")
    left_out = text.count("\n") + 1 - whole
    chars = tail_start - head_end - (text[head_end] == "\n") - (text[tail_start - 1] == "\n")
    where = f": {hint} prints the whole {what}" if hint else ""
    plural = "" if left_out == 1 else "s"
    return f"{head}\n[... {left_out} line{plural} of the {what} not shown ({chars} characters){where} ...]\n{tail}"


def count_line(statuses: Iterable[TestStatus]) -> str:
    """Counts per verdict, in the order of TestStatus: ``3 PASS, 1 FAIL``."""
    counts = Counter(statuses)
    parts = [f"{counts[s]} {s.value}" for s in TestStatus if counts[s]]
    return "e3suite: " + (", ".join(parts) if parts else "no testcase")


def summary_line(statuses: Iterable[TestStatus]) -> str:
    """The last line of every run, alone: ``e3suite: P passed, F failed, S skipped``."""
    passed, failed, skipped = summary_counts(list(statuses))
    return f"e3suite: {passed} passed, {failed} failed, {skipped} skipped"


def _change_line(change: Change, category: str, colour: bool) -> str:
    test_id = printable(change.test_id)
    if category == "removed":
        return f"{test_id} (was {change.old_status.value if change.old_status else '?'})"
    if category == "slower":
        return f"{test_id}: {format_duration(change.old_duration)} -> {format_duration(change.duration)}"
    line = f"{status_text(change.status, colour)} {test_id}"
    if change.message:
        line += f": {printable(change.message)}"
    if change.old_status is not None:
        line += f" (was {change.old_status.value})"
    return line


def comparison_lines(comparison: Comparison, colour: bool = False) -> list[str]:
    """The comparison block of the summary: a headline, then each category."""
    from e3suite.reports.compare import CATEGORIES

    counts = comparison.counts()
    parts = [f"{label}: {counts[name]}" for name, label in CATEGORIES if counts[name]]
    if not comparison.changed:
        # Nothing new: the failures list says what still fails; stay quiet.
        return []
    lines = [f"compared with {comparison.old_dir}: " + ", ".join(parts)]
    for name, label in CATEGORIES:
        changes = comparison.category(name)
        if not changes or name == "still_failing":
            continue  # still failing: counted above, listed under "failures"
        lines.append(f"  {label}:")
        lines.extend("    " + _change_line(c, name, colour) for c in changes[:MAX_CHANGES_SHOWN])
        if len(changes) > MAX_CHANGES_SHOWN:
            lines.append(f"    ... and {len(changes) - MAX_CHANGES_SHOWN} more")
    return lines


def slowest_lines(results: list[TestResult], show_time: bool) -> list[str]:
    """The slowest testcases, when asked (--show-time) or when some are really slow."""
    timed = [r for r in results if r.duration is not None]
    timed.sort(key=lambda r: (-(r.duration or 0.0), r.test_id))
    slowest = timed[:SLOWEST_COUNT]
    if not slowest or not (show_time or (slowest[0].duration or 0.0) >= SLOW_SUMMARY_SECONDS):
        return []
    lines = [f"slowest testcases ({len(slowest)} of {len(results)}):"]
    lines.extend(f"  {format_duration(r.duration):>9} {printable(r.test_id)}{resource_text(r)}" for r in slowest)
    return lines


def summary_lines(
    results: list[TestResult],
    comparison: Comparison | None = None,
    colour: bool = False,
    show_time: bool = False,
    complete: bool = True,
    live: bool = False,
    ended: bool = False,
) -> list[str]:
    """The end-of-run summary, identical for a run and for ``e3suite report``.

    ``ended``: a results directory rebuilt from its journal (not ``complete``)
    whose run did end (its journal says so): only its index is missing.

    The comparison comes first: when something changed, that is the news.
    The last line is always ``summary_line``.
    """
    carried = sum(1 for r in results if r.carried_over)
    results = [r for r in results if not r.carried_over]  # counted: what the run ran
    statuses = [r.status for r in results if r.status is not None]
    # Sorted by id, not in completion order: the summary of two runs of the
    # same results reads the same whatever the scheduling was.
    failures = sorted(
        (r for r in results if r.status is not None and r.status.is_failure), key=lambda r: r.test_id
    )
    lines: list[str] = []
    if comparison is not None:
        lines.extend(comparison_lines(comparison, colour))
    if failures and len(results) > 1:
        lines.append("failures:")
        lines.extend("  " + result_line(r, colour, show_time) for r in failures)
    lines.extend(slowest_lines(results, show_time))
    if live:
        unfinished = [r for r in results if r.status is None]
        running = sum(1 for r in unfinished if r.message == "running")
        lines.append(
            f"e3suite: the run is still going: {running} testcase{'' if running == 1 else 's'} running,"
            f" {len(unfinished) - running} waiting (e3suite status tells more)"
        )
    elif not complete and ended:
        lines.append("e3suite: the run's index is missing or unreadable: results rebuilt from its journal")
    elif not complete:
        lines.append("e3suite: the run did not finish: results rebuilt from its journal")
    # A stopped run (failure limit, Ctrl-C, a results write that failed) says so,
    # even with -q, where its SKIP lines are not printed.
    not_run = Counter(
        r.message for r in results if r.status is TestStatus.SKIP and r.message.startswith(NOT_RUN_PREFIX)
    )
    for message, count in sorted(not_run.items()):
        lines.append(f"e3suite: {count} testcase{'' if count == 1 else 's'} {message}")
    if carried:
        lines.append(f"e3suite: {carried} testcase{'s' if carried > 1 else ''} carried over from the previous run")
    lines.append(count_line(statuses) if statuses or not live else "e3suite: no testcase finished yet")
    lines.append(summary_line(statuses))
    return lines


class TerminalReporter:
    """Prints results as they arrive, then the summary.

    A live status line (see e3suite.reports.progress) may sit below the
    result lines on a terminal: ``write`` erases it first and redraws it
    after, under a lock, since the progress ticker runs in a thread.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        quiet: bool = False,
        verbose: bool = False,
        show_error_output: bool | None = None,
        no_color: bool = False,
        show_time: bool = False,
        log_lines: int = 0,
        full_log_hint: str | None = None,
    ) -> None:
        self.stream = stream or sys.stdout
        #: logs and diffs are cut to their first and last log_lines lines (0: shown whole), see indented_log
        self.log_lines = log_lines
        self.full_log_hint = full_log_hint
        self.quiet = quiet
        self.verbose = verbose
        self.show_time = show_time
        self.colour = use_colour(self.stream, no_color)
        if show_error_output is None:
            # CI wants failing logs in the job output; a person at a terminal
            # gets them on request (-E) and in the results directory.
            show_error_output = not (getattr(self.stream, "isatty", None) and self.stream.isatty())
        self.show_error_output = show_error_output
        #: the verdicts whose logs show_error_output prints (None: the failing ones)
        self.logs_of: frozenset[TestStatus] | None = None
        if self.colour:
            _colorama().just_fix_windows_console()
        self._lock = threading.Lock()
        self._closed = False  # the reader of the stream went away
        self._status = ""

    @classmethod
    def from_options(cls, options: argparse.Namespace, stream: TextIO | None = None) -> TerminalReporter:
        """The reporter of a run (testsuite.py options): logs cut to ``--log-lines``, ``e3suite report`` for all."""
        results_dir = Path(getattr(options, "output_dir", None) or "out") / "new"
        return cls(
            stream=stream,
            quiet=getattr(options, "quiet", False),
            verbose=getattr(options, "verbose", False),
            show_error_output=getattr(options, "show_error_output", None),
            no_color=getattr(options, "no_color", False),
            show_time=getattr(options, "show_time", False),
            log_lines=getattr(options, "log_lines", DEFAULT_LOG_LINES),
            full_log_hint=f"e3suite report {shlex.quote(str(results_dir))} -E",
        )

    @property
    def isatty(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def write(self, text: str) -> None:
        with self._lock:
            if self._status:
                text = "\r\x1b[K" + text + self._status
            self._emit(text)

    def _emit(self, text: str) -> None:
        """Write and flush; a reader that went away (``| head``) stops the output, not the run."""
        if self._closed:
            return
        try:
            try:
                self.stream.write(text)
            except UnicodeEncodeError:
                # A log as written may hold what the stream's encoding cannot
                # (a lone surrogate, or any non-ASCII text on an ASCII stream):
                # spelled out rather than ending the run with a traceback.
                encoding = getattr(self.stream, "encoding", None) or "utf-8"
                self.stream.write(text.encode(encoding, "backslashreplace").decode(encoding, "replace"))
            self.stream.flush()
        except BrokenPipeError:
            self._closed = True
            # Python flushes stdout again at exit and would complain: send
            # whatever is left to /dev/null instead.
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self.stream.fileno())
                os.close(devnull)
            except (OSError, AttributeError, ValueError):
                pass

    def set_status(self, status: str) -> None:
        """Show ``status`` as the live line below the results ("" removes it), cut to the terminal's width.

        A line longer than the terminal wraps, and the ``\r`` of the next
        redraw goes back to the start of its last row only: each redraw
        left a row behind (an 80-column terminal and 1,000 testcases with
        a time left: every tenth of a second).
        """
        with self._lock:
            status = _fit(status, self._columns())
            if status == self._status:
                return
            self._emit("\r\x1b[K" + status)
            self._status = status

    def _columns(self) -> int | None:
        """The terminal's width now (it may have been resized), None when unknown."""
        try:
            return os.get_terminal_size(self.stream.fileno()).columns or None
        except (AttributeError, OSError, ValueError):
            return None

    def run_stopping(self, event: RunStopping) -> None:
        """What the run does once stopped, at once, also with -q: ending commands may take the kill grace."""
        one = event.running == 1
        what = f"{event.running} running fragment{'' if one else 's'}"
        whose = "its" if one else "their"
        if event.grace > 0:
            grace = f"{whose} commands get {event.grace:g} s after SIGTERM"
        else:
            grace = f"killing {whose} commands"
        again = ""
        if event.grace > 0 and event.reason == "interrupted":
            again = f"; Ctrl-C ends {'it' if one else 'them'} at once"
        self.write(f"e3suite: {event.reason}: ending {what} ({grace}{again})\n")

    def attempt_failed(self, event: AttemptFailed) -> None:
        """``RETRY  a/b: attempt 1 of 3 failed (FAIL: wrong output); trying again``."""
        self.write(self.attempt_text(event))

    def attempt_text(self, event: AttemptFailed) -> str:
        if self.quiet:
            return ""
        how = f"{event.status.value}: {event.message}" if event.message else event.status.value
        again = f"trying again in {event.delay:g} s" if event.delay else "trying again"
        line = f"{status_label('RETRY', self.colour)} {printable(event.test_id)}: attempt {event.attempt} of "
        return line + f"{event.attempts} failed ({printable(how)}); {again}\n"

    def test_finished(self, result: TestResult) -> None:
        self.write(self.finished_text(result))

    def finished_text(self, result: TestResult) -> str:
        """The line (and log) of a finished testcase, "" when it is not shown (-q and no failure)."""
        status = result.status
        failing = status is not None and status.is_failure
        if self.quiet and not failing:
            return ""
        text = result_line(result, self.colour, self.show_time) + "\n"
        shown = failing if self.logs_of is None else status in self.logs_of
        if self.verbose or (shown and self.show_error_output):
            text += indented_log(result, self.isatty, self.log_lines, self.full_log_hint)
        return text

    def summary(
        self,
        results: list[TestResult],
        comparison: Comparison | None = None,
        complete: bool = True,
        live: bool = False,
        ended: bool = False,
    ) -> None:
        if self._status:
            self.set_status("")
        lines = summary_lines(results, comparison, self.colour, self.show_time, complete, live, ended)
        self.write("\n".join(lines) + "\n")


class TerminalSink(Sink):
    """The terminal lines of a run: one per finished testcase, one per retried attempt.

    With ``after_written`` (the results writer's), a line is printed once
    the journal holds what it tells: a run killed right after it printed
    ``PASS a`` has ``a``'s result (promise 2). The text is made at the
    event: the result's texts may be released once it is handled.
    """

    def __init__(self, reporter: TerminalReporter, after_written: Callable[[Callable[[], None]], None] | None = None):
        self.reporter = reporter
        self.after_written = after_written

    def _print(self, text: str) -> None:
        if not text:
            return
        if self.after_written is None:
            self.reporter.write(text)
            return

        def show() -> None:
            with contextlib.suppress(Exception):  # a terminal's trouble never stops the journal's writes
                self.reporter.write(text)

        self.after_written(show)

    def attempt_failed(self, event: AttemptFailed) -> None:
        self._print(self.reporter.attempt_text(event))

    def run_stopping(self, event: RunStopping) -> None:
        self.reporter.run_stopping(event)

    def test_finished(self, event: TestFinished) -> None:
        if not event.result.carried_over:  # the summary counts those
            self._print(self.reporter.finished_text(event.result))
