"""What every report format renders: a run read back from its results directory.

``load_report`` turns a results directory (and optionally the previous one)
into a ``RunReport``: run metadata, one full TestResult per testcase in the
order the run finished them, counts, and the comparison. Promise 5 rests on
this: the terminal summary, JUnit, HTML and JSON are all functions of a
RunReport, and a RunReport is a function of the directory.

This module never writes anything and never decides a verdict: a missing or
corrupt record becomes the ERROR the store gives it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import e3suite.store as store
from e3suite.model import TestResult, TestStatus, count_flaky_as, summary_counts
from e3suite.reports.compare import (
    DEFAULT_SLOWDOWN_THRESHOLD,
    Comparison,
    Outcome,
    compare,
    outcomes_from_entries,
)

#: Logs in reports are cut to their last this-many characters: the end of a
#: log is where failures show, and a 100 MB log must not make a 100 MB report.
LOG_EXCERPT_CHARS = 16_384


@dataclass
class RunReport:
    """A run as reports see it."""

    path: Path
    run: dict[str, Any]
    results: list[TestResult]
    complete: bool  # False: the index was rebuilt from the journal (killed run)
    comparison: Comparison | None = None
    live: bool = False  # still running: testcases without a verdict are running or waiting

    @property
    def statuses(self) -> list[TestStatus]:
        """The verdicts of what the run ran: counts and the exit code leave carried-over results out."""
        return [r.status for r in self.results if r.status is not None and not r.carried_over]

    @property
    def carried_over(self) -> int:
        return sum(1 for r in self.results if r.carried_over)

    def counts(self) -> dict[str, Any]:
        passed, failed, skipped = summary_counts(self.statuses)
        by_status: dict[str, int] = {}
        for status in self.statuses:
            by_status[status.value] = by_status.get(status.value, 0) + 1
        return {
            "total": len(self.results),
            "passed": passed,
            "failed": failed,
            "skipped": skipped,
            "by_status": {s.value: by_status[s.value] for s in TestStatus if s.value in by_status},
        }


def display_log(result: TestResult) -> str:
    """What reports show as a testcase's log: its log, or the commands it ran when it logged nothing.

    The stock drivers log each command they run; a driver of one's own that
    runs commands with ``ctx.shell`` and logs nothing showed nothing under
    its FAIL line, not even with ``-E``: its commands, their output and how
    they ended are in its record, and are shown the way the stock drivers
    log them.
    """
    if result.log or not result.processes:
        return result.log
    from e3suite.command_output import transcript  # reports that need no transcript do not import it

    return transcript(result.processes)


def log_excerpt(log: str, limit: int = LOG_EXCERPT_CHARS) -> tuple[str, bool]:
    """The last ``limit`` characters of ``log`` and whether it was cut.

    The cut moves to the next line start when one is near (in the first
    quarter of the excerpt), so that the excerpt does not begin with half a
    line; a longer first line is cut in its middle instead: skipping it
    would leave nothing but the lines after it (a 20 MB line of output, then
    "[exit status 1]", gave just "[exit status 1]").
    """
    if len(log) <= limit:
        return log, False
    tail = log[-limit:]
    newline = tail.find("\n", 0, max(1, limit // 4))
    if 0 <= newline < len(tail) - 1:
        tail = tail[newline + 1 :]
    return tail, True


def unfinished(result: TestResult) -> bool:
    """A testcase of a run still going that has no verdict yet: running, or waiting (see store.load_record)."""
    return result.status is None and result.message in ("running", "waiting")


def outcomes(results: list[TestResult]) -> list[Outcome]:
    """What the comparison compares: the testcases that have a verdict (unfinished ones are left out)."""
    return [
        Outcome(r.test_id, r.status or TestStatus.ERROR, r.duration, r.message) for r in results if not unfinished(r)
    ]


def compare_with_dir(
    results: list[TestResult],
    old_dir: Path,
    threshold: float = DEFAULT_SLOWDOWN_THRESHOLD,
    partial: bool = False,
) -> Comparison | None:
    """Compare ``results`` with the results directory ``old_dir`` (None if unreadable).

    ``partial``: the run selected some testcases, so absent ones are not "removed".
    """
    try:
        old = store.load_run(old_dir)
    except (store.StoreError, OSError):
        return None
    old_partial = _partial(old)
    return compare(
        outcomes(results), outcomes_from_entries(old.entries), str(old_dir), threshold, partial, old_partial,
        [r.test_id for r in results if unfinished(r)],
    )


def _partial(run: store.LoadedRun) -> bool:
    """Whether ``run`` holds only some of the testcases: it ran a selection, or none at all.

    A run killed in its set-up or planning, or one its set-up stopped (a
    usage error), has no testcase: against it every testcase would read as
    new, and it would call every one removed.
    """
    return bool(run.run.get("selection")) or not run.entries


class NothingRecorded(store.StoreError):
    """A results directory whose run stopped before its journal's first line was whole: nothing to read."""

    def __init__(self, path: Path, how: str) -> None:
        super().__init__(f"{path}: the run recorded nothing before it stopped ({how}: killed as it started?)")
        self.how = how


def load_run(path: Path) -> store.LoadedRun:
    """``store.load_run``, refusing a journal that no e3suite run wrote, or that holds nothing yet.

    Another tool's ``journal.jsonl`` rebuilds into an empty run that would
    read as "the run did not finish"; every e3suite journal starts with
    ``run_started``. A journal that is empty, or holds part of its first
    line, is e3suite's all the same (NothingRecorded): its run created it,
    then was killed before the first write was whole.
    """
    loaded = store.load_run(path)
    if not loaded.complete and "start" not in loaded.run:
        how = _recorded_nothing(path / store.JOURNAL)
        if how is not None:
            raise NothingRecorded(path, how)
        raise store.StoreError(f"{path} is not an e3suite results directory (its journal has no run_started event)")
    return loaded


#: The longest first line read to tell a torn ``run_started`` (a shard's lists the whole run: 10,000 ids are ~0.5 MB).
_FIRST_LINE_LIMIT = 16 << 20


def _recorded_nothing(journal: Path) -> str | None:
    """How ``journal`` shows that its run wrote nothing whole ("its journal is empty"...); None when it holds a line.

    The engine writes whole lines, each ending in a newline, and its first
    is ``run_started``, a JSON object: a journal without a newline is empty,
    or the start of that object cut by a kill (then it is no JSON). Anything
    else (a line of another tool, text) is not e3suite's.
    """
    try:
        with open(journal, "rb") as handle:
            head = handle.read(_FIRST_LINE_LIMIT + 1)
    except OSError:
        return None
    if not head:
        return "its journal is empty"
    if b"\n" in head or len(head) > _FIRST_LINE_LIMIT or not head.startswith(b"{"):
        return None
    try:
        json.loads(head)
    except ValueError:
        return "its journal holds only part of its first line"
    return None  # a whole object, but not run_started: another tool's


def explicit_compare_dir(path: Path) -> Path:
    """The results directory ``--compare PATH`` names; StoreError when it names none.

    Checked before anything runs: a comparison asked for is never dropped in silence.
    """
    if not path.is_dir():
        raise store.StoreError(f"--compare: {path} is not a directory")
    resolved = resolve_results_dir(path)
    try:
        load_run(resolved)
    except NothingRecorded as exc:
        raise store.StoreError(f"--compare: {exc}: there is nothing to compare with") from None
    except store.StoreError as exc:
        raise store.StoreError(f"--compare: {exc}") from None
    return resolved


def resolve_results_dir(path: Path) -> Path:
    """``out`` means ``out/new`` when ``out`` is an output dir rather than a results dir."""
    if not (path / store.INDEX).exists() and not (path / store.JOURNAL).exists() and (path / "new").is_dir():
        return path / "new"
    return path


def default_old_dir(results_dir: Path) -> Path | None:
    """The previous run next to ``results_dir`` (``out/old`` for ``out/new``), if any."""
    if results_dir.name == "new":
        old = results_dir.parent / "old"
        if old.is_dir():
            return old
    return None


def _with_verdict(result: TestResult, entry: dict[str, Any]) -> TestResult:
    """``result``, an ERROR when its record holds no verdict (damaged) and its run is not still going.

    Every testcase of a finished run has a verdict; a record without one
    (``"status": null``) was shown as ``?`` and counted nowhere, while JUnit
    showed it as an ``<error>`` its ``errors`` count left out, and JSON as
    an ERROR its ``by_status`` left out.
    """
    if result.status is not None or entry.get("live"):
        return result
    record = entry.get("record")
    where = f"of {result.test_id} in {store.JOURNAL}" if record == store.IN_JOURNAL else str(record)
    result.status = TestStatus.ERROR
    result.message = f"unreadable result record {where}: it holds no verdict" + (
        f" ({result.message})" if result.message else ""
    )
    return result


def load_report(
    path: Path,
    compare_dir: Path | None = None,
    threshold: float = DEFAULT_SLOWDOWN_THRESHOLD,
) -> RunReport:
    """Read ``path`` (raises store.StoreError when it is no results directory)."""
    loaded = load_run(path)
    # What FLAKY counted as is the run's choice (--flaky-result): reports say the same.
    count_flaky_as("failed" if loaded.run.get("flaky_result") == "fail" else "passed")
    results = [_with_verdict(store.load_record(loaded, entry), entry) for entry in loaded.entries]
    report = RunReport(path, dict(loaded.run), results, loaded.complete, live=loaded.live)
    if compare_dir is not None:
        report.comparison = compare_with_dir(results, compare_dir, threshold, _partial(loaded))
    return report
