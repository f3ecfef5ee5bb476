"""``e3suite report RESULTS_DIR``: everything a run showed, again, from its directory.

It prints the summary the run printed (per-testcase lines with ``-a``,
failing logs with ``-E``), compares with ``--compare OLD_DIR`` (or the
``old`` directory next to a ``new`` one), and writes ``--junit``, ``--html``
and ``--json`` files. ``write_report_files`` is shared with the run itself
(Testsuite.write_reports) so that both write the very same files.

When a report goes to stdout (``-``), stdout carries that document only and
everything else goes to stderr. This module never changes the results
directory.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import e3suite.store as store
from e3suite.atomic import write_atomic
from e3suite.options import add_report_options, exit_code
from e3suite.reports.data import RunReport, default_old_dir, explicit_compare_dir, load_report, resolve_results_dir
from e3suite.reports.terminal import TerminalReporter, shuffle_line

EXIT_USAGE = 2


class ReportError(Exception):
    """A report cannot be produced (bad arguments, unwritable file)."""


#: The options naming a file to write (`-`: stdout).
_TARGETS = ("junit", "html", "json", "durations")


def check_stdout_use(options: argparse.Namespace) -> bool:
    """True when a report goes to stdout; more than one is an error."""
    # --durations too (e3suite report): its `-` is stdout as the reports' is, never a file named "-".
    to_stdout = [name for name in _TARGETS if getattr(options, name, None) == "-"]
    if len(to_stdout) > 1:
        raise ReportError(f"only one report can go to stdout, not --{' and --'.join(to_stdout)}")
    return bool(to_stdout)


def check_targets(
    options: argparse.Namespace, made: tuple[Path, ...] = (), results: tuple[Path, ...] = ()
) -> bool:
    """Check the report files asked for before anything runs; True when one goes to stdout.

    A run may take hours: a --junit path with a typo must not be found only
    when the run is over and its report cannot be written. ``made``: the
    directories the run makes before it writes its reports (``-o DIR`` and
    ``DIR/new``), where a report may go though they do not exist yet.
    ``results``: results directories the reports read, whose own files
    (``--json out/new/index.json``) a report must never replace.
    """
    to_stdout = check_stdout_use(options)
    will_exist = {os.path.abspath(d) for d in made}
    named: dict[str, str] = {}  # real path -> the option that names it
    for name in _TARGETS:
        target = getattr(options, name, None)
        if not target or target == "-":
            continue
        path = Path(target)
        # `--junit r.xml --html r.xml` (a CI configuration's typo): the second replaced the first, silently.
        real = os.path.realpath(path)
        if real in named and not _is_stream(real):
            raise ReportError(f"--{named[real]} and --{name} name the same file {target}: each report needs its own")
        named.setdefault(real, name)
        parent = path.parent
        owner = _results_file_of(path, results)
        if owner is not None:
            raise ReportError(
                f"cannot write the {name} report to {target} (--{name}): it would replace a file of the results "
                f"directory {owner}"
            )
        if os.path.abspath(parent) in will_exist and not parent.exists():
            continue
        if path.is_dir():
            problem = "it is a directory"
        elif not parent.is_dir():
            problem = f"{parent} is not a directory" if parent.exists() else f"no directory {parent}"
        elif not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
            problem = "permission denied"
        else:
            continue
        raise ReportError(f"cannot write the {name} report to {target} (--{name}): {problem}")
    return to_stdout


def _is_stream(path: str) -> bool:
    """Whether ``path`` is no regular file (``/dev/stderr``, a pipe), which reports may share."""
    return os.path.exists(path) and not os.path.isfile(path)


#: What a results directory is made of: a report written over one of them would lose the results.
_RESULTS_FILES = (store.INDEX, store.JOURNAL, store.STATUS, ".lock")


def _results_file_of(path: Path, results: tuple[Path, ...]) -> Path | None:
    """The results directory of ``results`` that ``path`` is a file of (index, journal, a record), or None."""
    target = os.path.realpath(path)
    for directory in results:
        own = os.path.realpath(directory)
        if os.path.dirname(target) == own and os.path.basename(target) in _RESULTS_FILES:
            return directory
        if target.startswith(os.path.join(own, store.RECORDS) + os.sep):
            return directory
    return None


def write_report_files(report: RunReport, options: argparse.Namespace, stdout: TextIO | None = None) -> list[str]:
    """Write the report files ``options`` ask for; return what was written (for messages)."""
    # Imported here: every run imports this module, few write report files.
    from e3suite.reports.html import render_html
    from e3suite.reports.json_report import render_json
    from e3suite.reports.junit import render_junit

    renderers: list[tuple[str, Callable[[RunReport], str]]] = [
        ("junit", lambda r: render_junit(r, getattr(options, "junit_xpass_as_failure", False))),
        ("html", render_html),
        ("json", render_json),
    ]
    written = []
    for name, render in renderers:
        target = getattr(options, name, None)
        if not target:
            continue
        text = render(report)
        if target == "-":
            out = stdout or sys.stdout
            out.write(text)
            out.flush()
            continue
        try:
            write_whole(Path(target), text)
        except OSError as exc:
            raise ReportError(f"cannot write the {name} report to {target}: {exc.strerror or exc}") from None
        written.append(target)
    return written


def write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader finds the old file or the new one, never half of one.

    A run killed while it wrote its JUnit file (a CI timeout) left a
    truncated XML that CI could not parse. A regular file (or a link to one)
    is replaced by a rename; anything else (``/dev/stdout``, a pipe) is
    written in place, as the file a ``/dev`` or ``/proc`` path stands for.
    """
    target = Path(os.path.realpath(path))
    # /dev/stdout of a command run with `>> ci.log` resolves to ci.log: replaced, the log would be lost.
    if (target.exists() and not target.is_file()) or os.path.abspath(path).startswith(("/dev/", "/proc/")):
        path.write_text(text, encoding="utf-8")
        return
    try:
        write_atomic(target, text)
    except PermissionError:  # a directory we may not create in, but a file we may write
        if not os.access(target, os.W_OK):
            raise
        target.write_text(text, encoding="utf-8")


def write_durations(report: RunReport, target: str, stdout: TextIO | None = None) -> None:
    """``--durations FILE``: what ``--shard-history`` balances shards with (docs/sharding.md); `-`: stdout."""
    from e3suite.model import never_started
    from e3suite.shard import WHOLE_HISTORY, durations_document, partial_history

    ran = [r for r in report.results if not never_started(r.status and r.status.value, r.message)]
    text = durations_document((r.test_id, r.duration) for r in ran)
    held = partial_history(report.run, sum(1 for r in ran if r.duration is not None))
    if held is not None:
        # As a --shard-history, a part's durations leave the others to guesswork.
        print(f"e3suite: warning: {report.path} holds {held}: --durations {target} has theirs only; for "
              f"--shard-history, {WHOLE_HISTORY}", file=sys.stderr)
    if target == "-":
        out = stdout or sys.stdout
        out.write(text)
        out.flush()
        return
    try:
        write_whole(Path(target), text)
    except OSError as exc:
        raise ReportError(f"cannot write the durations to {target}: {exc.strerror or exc}") from None


def compare_dir(options: argparse.Namespace, results_dir: Path) -> Path | None:
    """The directory to compare with: --compare, else the sibling ``old``; None with --no-compare."""
    if getattr(options, "no_compare", False):
        return None
    explicit = getattr(options, "compare", None)
    if explicit:
        try:
            return explicit_compare_dir(Path(explicit))
        except store.StoreError as exc:
            raise ReportError(str(exc)) from None
    return default_old_dir(results_dir)


def _merge_missing(run: dict[str, object]) -> str | None:
    """"7 testcases" when ``run`` is a partial merge's (its selection's ``--merge-partial=7 missing``), else None."""
    selection = run.get("selection")
    for item in selection if isinstance(selection, list) else []:
        count = str(item).partition("--merge-partial=")[2].partition(" ")[0]
        if str(item).startswith("--merge-partial=") and count.isdigit():
            return "1 testcase" if count == "1" else f"{count} testcases"
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", metavar="RESULTS_DIR", help="a results directory (out/new), or its parent")
    parser.add_argument("-a", "--all", action="store_true", help="print one line per testcase, as the run did")
    parser.add_argument(
        "-E", "--show-error-output", action="store_true", help="print the log of failing testcases"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print every testcase's line and log")
    parser.add_argument("--no-color", action="store_true", help="never use colours (NO_COLOR is honoured too)")
    parser.add_argument(
        "--failure-exit-code", type=exit_code, default=0, metavar="N",
        help="exit code when a testcase failed or errored (default: %(default)s, so reporting never fails a job)",
    )
    add_report_options(parser)
    parser.add_argument(
        "--durations", metavar="FILE",
        help="write each testcase's duration as JSON (test id -> seconds) to FILE (- for stdout), "
        "for --shard-history",
    )


def run(args: argparse.Namespace) -> int:
    try:
        results_dir = resolve_results_dir(Path(args.results_dir))
        old_dir = compare_dir(args, results_dir)
        to_stdout = check_targets(args, results=(results_dir, *([old_dir] if old_dir else [])))
        report = load_report(results_dir, old_dir, args.slowdown_threshold)
    except (ReportError, store.StoreError) as exc:
        print(f"e3suite: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if old_dir is not None and report.comparison is None:
        print(f"e3suite: warning: {old_dir} cannot be read: no comparison", file=sys.stderr)
    missing = _merge_missing(report.run)
    if missing:
        # CI regenerates the report of a merge --allow-partial made: without this line its
        # summary read as the whole run's, the failures of the lost shard nowhere.
        print(f"e3suite: warning: {report.path} is a partial merge: {missing} of its whole run are missing "
              "from it (e3suite merge --allow-partial)", file=sys.stderr)
    terminal = sys.stderr if to_stdout else sys.stdout
    # -v is the log of every testcase: alone (without -a), it printed the summary only, no log at all.
    every_line = args.all or args.verbose
    reporter = TerminalReporter(
        stream=terminal,
        quiet=not every_line,
        verbose=args.verbose,
        show_error_output=args.show_error_output,
        no_color=args.no_color,
        show_time=args.show_time,
    )
    seed = report.run.get("shuffle_seed")
    if isinstance(seed, int) and not isinstance(seed, bool):  # as the run printed it first
        reporter.write(shuffle_line(seed))
    if every_line or args.show_error_output:
        for result in report.results:
            reporter.test_finished(result)
    ended = report.run.get("end") is not None  # the journal's run_ended: only the index is lost
    reporter.summary(report.results, report.comparison, report.complete, live=report.live, ended=ended)
    try:
        write_report_files(report, args)
        if getattr(args, "durations", None):
            write_durations(report, args.durations)
    except ReportError as exc:
        print(f"e3suite: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if any(s.is_failure for s in report.statuses):
        return int(args.failure_exit_code)
    return 0
