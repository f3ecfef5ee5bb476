"""The results directory: journal, one record per testcase, index (its rotation: e3suite/output_dir.py).

The journal file and the thread that writes it are e3suite/journal.py.

Layout of a results directory (``DIR/new`` for the current run)::

    journal.jsonl        one JSON object per event, appended (a batch at a time);
                         a testcase's ``test_result`` line holds its record
    index.json           written at the end: run metadata + one line a test

Directories written before 2026-12-03 hold each record in a file of its
own, ``results/<name>.json`` (``RECORDS``, ``record_name``), read as they
are: an inode per testcase, whose creation right after mass deletions was
most of a fresh run's time on ext4 (docs/performance.md).

Promise 2 of docs/index.md lives here: the events of each turn of the engine reach the OS
together (unbuffered, one write), and a record is its testcase's journal
line, whole or torn, so a SIGKILL of the engine leaves a directory that
``load_run`` reads, rebuilding the index from the journal. A run holds the
directory's lock (``DIR/.lock``) from the rotation to the end, and a write
that fails is kept as the writer's ``error`` (never raised deep in the
engine), after which nothing more is written. This module must
never decide a verdict: it stores and reads what the engine and reports
give it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import e3suite.events as events
from e3suite.atomic import write_atomic
from e3suite.events import Sink
from e3suite.journal import Journal, WriterThread, describe_write_error
from e3suite.model import TestResult, TestStatus
from e3suite.process_tree import process_start
from e3suite.results_lock import unlock_results_dir

JOURNAL = "journal.jsonl"
INDEX = "index.json"
#: The directory of record files, in results directories written before records went in the journal.
RECORDS = "results"
#: An index entry's ``record`` when its record is the ``result`` of its ``test_result`` journal line.
IN_JOURNAL = JOURNAL
INDEX_FORMAT = "e3suite-index"
INDEX_VERSION = 1
# File names are limited to 255 bytes on common filesystems.
_MAX_NAME = 200


def record_name(test_id: str) -> str:
    """The record's file name for ``test_id`` in a directory of record files: readable, unambiguous, stable.

    Percent-encoding keeps ``/`` out of names and makes the mapping
    reversible; very long ids keep a readable prefix plus a digest.
    """
    name = urllib.parse.quote(test_id, safe="[]=,+-_.@")
    if len(name) > _MAX_NAME:
        import hashlib

        digest = hashlib.sha1(test_id.encode()).hexdigest()[:16]
        name = f"{name[:_MAX_NAME - 17]}~{digest}"
    return name + ".json"


#: A record found on disk belongs to the run whose journal starts at most this much later
#: (file times come from a coarse kernel clock).
_MTIME_SLACK = 0.5


def remove_path(path: Path) -> None:
    """Remove a file, a link or a whole directory."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


class ResultsWriteError(Exception):
    """A write in the results directory failed (disk full, directory removed...)."""


class ResultsWriter(Sink):
    """The journal sink of the run's events: persists the run as it goes.

    Every event but ``fragment_queued`` becomes a journal line; a finished
    testcase's line (``test_result``) holds its whole record, as ``result``.

    With ``background``, the writes are made by a thread of their own, in
    the order of the events: the engine's loop only queues them, and hands
    each batch over at ``housekeeping`` (once per turn of the loop, before
    it waits for fragments). The thread appends the lines of one batch in
    one write while the engine works or waits. What a SIGKILL can lose is
    what was in flight: the events of the engine's current turn.
    ``write_index`` and ``close`` wait for everything queued to be written.
    """

    def __init__(self, path: Path, background: bool = False) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(path / JOURNAL)
        self.index: list[dict[str, Any]] = []
        self._error: str | None = None
        self._thread: WriterThread | None = WriterThread() if background else None
        self._batch: list[Callable[[], None]] = []
        self._after: list[Callable[[], None]] = []  # run once the batch's lines are written (after_written)
        self._records_queued = False  # the batch holds a record: the thread writes it

    @property
    def error(self) -> str | None:
        """The first write that failed, as one line; then nothing more is written."""
        return self._error or self.journal.error or (self._thread.failure if self._thread is not None else None)

    @property
    def failure(self) -> str | None:
        return self.error

    def housekeeping(self, now: float) -> None:
        self._hand_over()

    def drain(self) -> None:
        """Everything queued is written (or failed) when this returns."""
        if self._thread is not None:
            self._hand_over()
            self._thread.wait_idle()

    # -- the events ------------------------------------------------------------

    def run_started(self, event: events.RunStarted) -> None:
        self._line("run_started", **event.info)

    def test_discovered(self, event: events.TestDiscovered) -> None:
        self._line("test_discovered", test=event.test_id)

    def fragment_started(self, event: events.FragmentStarted) -> None:
        extra = {"attempt": event.attempt} if event.attempt != 1 else {}
        self._line(
            "fragment_started", fragment=event.fragment_id, time=event.time, slot=event.slot, pid=event.pid, **extra
        )

    def fragment_ended(self, event: events.FragmentEnded) -> None:
        extra = {"attempt": event.attempt} if event.attempt != 1 else {}
        self._line(
            "fragment_ended", fragment=event.fragment_id, state=event.state.value, slot=event.slot,
            start=event.start, end=event.end, **extra,
        )

    def attempt_failed(self, event: events.AttemptFailed) -> None:
        self._line(
            "attempt_failed", test=event.test_id, attempt=event.attempt, attempts=event.attempts,
            status=event.status.value, message=event.message, delay=event.delay, rerun=list(event.rerun),
        )

    def test_finished(self, event: events.TestFinished) -> None:
        self.write_result(event.result)

    def run_ended(self, event: events.RunEnded) -> None:
        self._line("run_ended", end=event.end, duration=event.duration, interrupted=event.interrupted)

    def write_result(self, result: TestResult) -> None:
        """Persist a final result: its journal line, which holds its record."""
        if self.error is not None:
            return
        # Encoded now: the result may change once the event is handled.
        data = json.dumps(result.to_json(), separators=(",", ":"))
        entry = index_entry(result, IN_JOURNAL)
        self.index.append(entry)
        self._queue(lambda: self.journal.write_with("test_result", entry, {"result": data}))
        self._records_queued = True

    def write_index(self, run: dict[str, Any]) -> None:
        self.drain()
        if self.error is not None:
            return  # the journal tells what was written; an index would claim more
        try:
            write_index(self.path, run, self.index)
        except OSError as exc:
            self._error = describe_write_error(exc, self.path / INDEX)

    def close(self) -> None:
        """End of the run: the journal is closed, the directory's lock given back."""
        try:
            self.drain()
        finally:
            if self._thread is not None:
                self._thread.stop()
            self.journal.close()
            unlock_results_dir(self.path.parent)

    # -- writing -----------------------------------------------------------------

    def _line(self, event: str, **fields: Any) -> None:
        self._queue(lambda: self.journal.write(event, **fields))

    def _queue(self, write: Callable[[], None]) -> None:
        if self._thread is None:
            write()
        else:
            self._batch.append(write)

    def after_written(self, action: Callable[[], None]) -> None:
        """Run ``action`` once every line queued so far is in the journal (a terminal line that tells it)."""
        if self._thread is None:
            action()
        else:
            self._after.append(action)

    def _hand_over(self) -> None:
        if self._thread is None or not (self._batch or self._after):
            return
        # The batch's lines go in one write (release), then what waited for them.
        batch = [self.journal.hold, *self._batch, self.journal.release, *self._after]
        self._batch, self._after = [], []
        # The batch's lines go in one write: what a kill loses is still what
        # was in flight (this turn's events). A turn with no record (fragment
        # starts and ends only: 4 turns in 5 of chained fragments) is written
        # here, when the thread has nothing left to write (the order holds):
        # one write costs the engine less than waking the thread.
        if self._records_queued or not self._thread.idle():
            self._thread.put(batch)
        else:
            self._thread.write(batch)
        self._records_queued = False


def index_entry(result: TestResult, record: str) -> dict[str, Any]:
    entry = {
        "test": result.test_id,
        "status": result.status.value if result.status else None,
        "message": result.message,
        "duration": result.duration,
        "record": record,
    }
    if result.attempts:
        entry["attempts"] = len(result.attempts)
    if result.carried_over:
        entry["carried_over"] = True
    return entry


def write_index(path: Path, run: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    """One result per line, each made by the C encoder (``indent`` takes the Python one: 2x slower)."""
    head = json.dumps({"format": INDEX_FORMAT, "version": INDEX_VERSION, "run": run}, indent=1)[:-2]
    results = ",".join(f"\n{json.dumps(entry)}" for entry in entries)
    write_atomic(path / INDEX, f'{head},\n "results": [{results}\n ]\n}}\n')


# -- reading ---------------------------------------------------------------


def read_journal(path: Path, only: bytes | None = None) -> Iterator[dict[str, Any]]:
    """The journal's events (with ``only``, those of the lines holding it); a torn or corrupt line is skipped."""
    try:
        f = open(path / JOURNAL, "rb")  # noqa: SIM115 - a missing journal is no error
    except OSError:
        return
    with f:
        for line in f:
            if only is not None and only not in line:
                continue
            try:
                event = json.loads(line.decode("utf-8", errors="replace"))
            except ValueError:
                continue
            if isinstance(event, dict):
                yield event


@dataclass
class LoadedRun:
    """A results directory as reports see it."""

    path: Path
    run: dict[str, Any]
    entries: list[dict[str, Any]]
    complete: bool  # False when the index had to be rebuilt from the journal
    events: list[dict[str, Any]] = field(default_factory=list)
    live: bool = False  # the run is still going: unfinished testcases are running or waiting, not lost
    #: The records of the journal's test_result lines, by test id (None: the journal was not read yet).
    journal_records: dict[str, Any] | None = None

    def record_in_journal(self, test: str) -> Any:
        """The record the journal holds for ``test`` (the last one), or None."""
        if self.journal_records is None:
            self.journal_records = {}
            # Only test_result lines hold records: the others are not parsed.
            for event in read_journal(self.path, only=b'"test_result"'):
                if event.get("event") == "test_result" and "result" in event:
                    self.journal_records[str(event.get("test"))] = event["result"]
        return self.journal_records.get(test)


#: The live status of a running run (written by e3suite.reports.status).
STATUS = "status.json"


def pid_alive(pid: Any) -> bool:
    """Whether the process ``pid`` still runs (a zombie does not)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def engine_alive(status: dict[str, Any]) -> bool:
    """Whether the engine that wrote ``status`` still runs: its pid lives, and is still its process.

    A run SIGKILLed leaves its status "running" with a pid that may live
    again: on another machine (results fetched from CI: pid 1 lives
    everywhere), or here once the pid was given to a new process. Neither
    is the engine: another host, or a process that started at another time
    than the one the status recorded (``pid_start``).
    """
    pid = status.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        return False
    run = status.get("run")
    host = run.get("host") if isinstance(run, dict) else None
    if isinstance(host, str) and host and host != socket.gethostname():
        return False
    recorded = status.get("pid_start")
    if isinstance(recorded, int) and not isinstance(recorded, bool):
        return process_start(pid) == recorded
    return True


def run_is_live(path: Path) -> bool:
    """True while the engine that writes ``path`` runs (its status file says so, and ``engine_alive``).

    Not its pid alone: a killed run's artefact read on another machine (pid
    1 lives everywhere), or here once its pid was given again, read as a
    run still going, which ``e3suite merge`` waited for for ever.
    """
    try:
        status = json.loads((path / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(status, dict) and status.get("state") == "running" and engine_alive(status)


class StoreError(Exception):
    """The directory is not a results directory at all."""


def load_run(path: Path) -> LoadedRun:
    """Read ``index.json``, or rebuild the index from the journal.

    Testcases the journal saw discovered but never saw finish (the run was
    killed) get an ERROR entry saying so.
    """
    index_path = path / INDEX
    if index_path.is_file():
        try:
            document = json.loads(index_path.read_text(encoding="utf-8"))
            if _is_index(document):
                return LoadedRun(path, document.get("run") or {}, document["results"], True)
        except (OSError, ValueError):
            pass  # fall back on the journal
    if not (path / JOURNAL).is_file():
        # A CI artefact path with a typo, or a shard that produced nothing, is named as such.
        if not os.path.lexists(path):
            raise StoreError(f"{path}: no such directory")
        if not path.is_dir():
            raise StoreError(f"{path} is not a directory")
        index = f"its {INDEX} is not an e3suite index" if index_path.exists() else f"no {INDEX}"
        raise StoreError(f"{path} is not an e3suite results directory ({index}, no {JOURNAL})")
    try:  # read_journal skips what it cannot read: unreadable, it would look like another tool's journal
        open(path / JOURNAL, "rb").close()
    except OSError as exc:
        raise StoreError(f"cannot read {path / JOURNAL}: {exc.strerror or exc}") from None
    return rebuild_from_journal(path)


def _is_index(document: Any) -> bool:
    """Whether ``document`` is an index every reader can walk (one damaged by hand is not: the journal tells)."""
    if not isinstance(document, dict) or document.get("format") != INDEX_FORMAT:
        return False
    results, run = document.get("results"), document.get("run")
    return (
        isinstance(results, list)
        and all(isinstance(entry, dict) and isinstance(entry.get("test"), str) for entry in results)
        and (run is None or isinstance(run, dict))
    )


def rebuild_from_journal(path: Path) -> LoadedRun:
    run: dict[str, Any] = {}
    discovered: dict[str, None] = {}
    finished: dict[str, dict[str, Any]] = {}
    records: dict[str, Any] = {}  # the records test_result lines hold
    running: set[str] = set()  # testcases that started a fragment
    for event in read_journal(path):
        kind = event.get("event")
        if kind in ("test_discovered", "test_result") and not (isinstance(event.get("test"), str) and event["test"]):
            continue  # a line damaged by hand would make a testcase named "None"
        if kind == "run_started":
            run = {k: v for k, v in event.items() if k != "event"}
        elif kind == "test_discovered":
            discovered.setdefault(event["test"], None)
        elif kind == "test_result":
            test = event["test"]
            discovered.setdefault(test, None)
            finished[test] = {k: v for k, v in event.items() if k not in ("event", "result")}
            if "result" in event:
                records[test] = event["result"]
        elif kind == "run_ended":
            run.update({k: v for k, v in event.items() if k != "event"})
        elif kind == "fragment_started":
            running.add(str(event.get("fragment")).rpartition(":")[0])
        elif kind == "attempt_failed":  # until its retry starts, it waits (for --retry-delay)
            running.discard(str(event.get("test")))
    entries = []
    live = run_is_live(path)
    # The order of the index: finished testcases in the order the run
    # finished them (as it printed them), then the others as discovered.
    for test in [*finished, *(t for t in discovered if t not in finished)]:
        entry = finished.get(test)
        if entry is None and not live:
            # The record is written before its journal line: a kill between
            # the two leaves a finished testcase whose line is missing.
            entry = _entry_from_record(path, test, run.get("start"))
        if entry is None and live:
            state = "running" if test in running else "waiting"
            entry = {"test": test, "status": None, "message": state, "duration": None, "record": None, "live": True}
        if entry is None:
            # A run that ended (run_ended) finished it: its journal line is what was lost (damaged, unwritten).
            lost = "the run ended before this testcase finished"
            if "end" in run:
                lost = "the journal holds no result for it"
            entry = {
                "test": test,
                "status": TestStatus.ERROR.value,
                "message": f"no verdict: {lost}",
                "duration": None,
                "record": None,
            }
        entries.append(entry)
    return LoadedRun(path, run, entries, False, live=live, journal_records=records)


def _entry_from_record(path: Path, test: str, run_start: Any) -> dict[str, Any] | None:
    """The entry of a record file the journal does not name, if this run wrote it.

    In a directory of record files (written before records went in the
    journal), the record was written before its journal line: a kill in
    between left a finished testcase without its line. Such a directory
    may also hold records of the run it recycled: those are older than the
    run's start.
    """
    record = f"{RECORDS}/{record_name(test)}"
    try:
        if isinstance(run_start, (int, float)) and (path / record).stat().st_mtime < run_start - _MTIME_SLACK:
            return None
        result = TestResult.from_json(json.loads((path / record).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return index_entry(result, record)


def record_document(run: LoadedRun, entry: dict[str, Any]) -> Any:
    """The JSON of an entry's record (its journal line's, or its file's); None when it has none.

    OSError or ValueError when it cannot be read.
    """
    record = entry.get("record")
    if not record:
        return None
    if record == IN_JOURNAL:
        document = run.record_in_journal(str(entry.get("test")))
        if document is None:
            raise ValueError("no test_result line holds it")
        return document
    return json.loads((run.path / str(record)).read_text(encoding="utf-8"))


def load_records(path: Path) -> dict[str, Any]:
    """Every readable record of the results directory ``path`` (``DIR/new``), as JSON, by test id."""
    run = load_run(path)
    records = {}
    for entry in run.entries:
        with contextlib.suppress(OSError, ValueError):
            document = record_document(run, entry)
            if document is not None:
                records[str(entry.get("test"))] = document
    return records


def load_record(run: LoadedRun, entry: dict[str, Any]) -> TestResult:
    """The full result of an index entry; a missing or corrupt record gives ERROR."""
    record = entry.get("record")
    test = str(entry.get("test"))
    if entry.get("live"):
        return TestResult(test, None, str(entry.get("message") or ""))  # no verdict yet: it runs, or waits
    if record:
        try:
            return TestResult.from_json(record_document(run, entry))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            where = f"of {test} in {JOURNAL}" if record == IN_JOURNAL else str(record)
            result = TestResult(test, TestStatus.ERROR, f"unreadable result record {where}: {exc}")
            result.duration = entry.get("duration")
            return result
    try:
        status = TestStatus(entry.get("status"))
    except ValueError:
        status = TestStatus.ERROR
    result = TestResult(test, status, entry.get("message") or "")
    result.duration = entry.get("duration")
    return result


def previous_durations(old_dir: Path) -> dict[str, float]:
    """Durations of the previous run, for critical-path priorities (best effort)."""
    try:
        run = load_run(old_dir)
    except (StoreError, OSError):
        return {}
    # To a tenth of a second: below that, durations are the machine's noise,
    # and ordering by noise would make two runs of the same suite differ.
    return {
        str(e["test"]): round(float(e["duration"]), 1)
        for e in run.entries
        if isinstance(e.get("duration"), (int, float))
    }
