"""``e3suite status [RESULTS_DIR]``: what a run is doing, from another terminal.

Reads the run's ``status.json`` (see ``e3suite.reports.status``) and its
journal; never signals or touches the run. A finished run is answered from
its index, a killed one as "stopped without finishing" (its engine's pid is
gone), and one killed as it started (an empty journal, or part of its first
line) as stopped with nothing recorded. ``--wait done`` blocks until the run ends, ``--wait TEST_ID`` until
that testcase has a verdict, which it prints; ``--timeout`` bounds both.

Exit codes: 0 (answered; for ``--wait``: the run ended, or the testcase has
its verdict, whatever it is), 1 (``--wait``: time up, or the run stopped
first), 2 (no results directory there, ``--wait`` names no testcase of
the run, or options that would be ignored: ``--timeout`` without
``--wait``, ``--interval`` without ``--watch``, both of these).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import e3suite.store as store
from e3suite.model import TestResult
from e3suite.options import positive_seconds, seconds
from e3suite.reports.data import NothingRecorded, load_run
from e3suite.reports.status import alive, read_status, render
from e3suite.reports.terminal import printable, result_line

#: Seconds between two looks at the files while waiting or watching.
POLL = 0.2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "results_dir", nargs="?", default="out/new", metavar="RESULTS_DIR",
        help="the run's results directory (default: %(default)s; DIR is taken as DIR/new when that exists)",
    )
    parser.add_argument("--json", action="store_true", help="print the status as JSON, for a script")
    parser.add_argument(
        "--watch", action="store_true", help="print it again every --interval seconds until the run ends"
    )
    parser.add_argument(
        "--interval", type=_interval, default=None, metavar="SECONDS", help="for --watch (default: 1)"
    )
    parser.add_argument(
        "--wait", metavar="done|TEST_ID",
        help="block until the run has ended (done), or until the testcase TEST_ID has a verdict (printed)",
    )
    parser.add_argument(
        "--timeout", type=positive_seconds, default=None, metavar="SECONDS",
        help="with --wait: give up after this long (exit 1)",
    )


def _interval(text: str) -> float:
    value = seconds(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 seconds")
    return value


def _misuse(args: argparse.Namespace) -> str | None:
    """Options that would be silently ignored, or that contradict each other."""
    if args.watch and args.wait is not None:
        return "--watch and --wait contradict each other: --watch prints until the run ends, --wait blocks silently"
    if args.timeout is not None and args.wait is None:
        return "--timeout applies to --wait only (how long to wait): add --wait done or --wait TEST_ID"
    if args.interval is not None and not args.watch:
        return "--interval applies to --watch only (how often to print): add --watch"
    return None


def run(args: argparse.Namespace) -> int:
    misuse = _misuse(args)
    if misuse is not None:
        print(f"e3suite status: error: {misuse}", file=sys.stderr)
        return 2
    path = Path(args.results_dir)
    if (path / "new").is_dir() and not (path / store.JOURNAL).exists():
        path = path / "new"
    if not (path / store.JOURNAL).is_file():
        print(f"e3suite: error: {path} is not an e3suite results directory (no {store.JOURNAL})", file=sys.stderr)
        return 2
    try:
        current(path)
    except store.StoreError as exc:
        print(f"e3suite: error: {exc}", file=sys.stderr)
        return 2
    if args.wait is not None:
        return _wait(path, args.wait, args.timeout, args.json)
    while True:
        status = current(path)
        _show(status, args.json, clear=args.watch and sys.stdout.isatty(), one_line=args.watch)
        if not args.watch or status["state"] != "running":
            return 0
        time.sleep(args.interval or 1.0)


def current(path: Path) -> dict[str, Any]:
    """The status file's view while its engine runs; once it is gone, one made from the index / journal.

    The status file is written at most twice a second, and not at all
    after an engine's death: a killed run's file still shows fragments
    running and fewer testcases done than the journal holds, and one that
    ended before its first fragment (a failing or interrupted set-up) still
    says "starting". The journal says what really happened.
    """
    status = read_status(path)
    if status is not None and status["state"] == "ended":
        return status
    has_index = (path / store.INDEX).is_file()
    ended = has_index and _ended(path)
    if status is not None and status["state"] == "running" and not ended:
        return status
    try:
        run = load_run(path)  # StoreError: a journal no e3suite run wrote
    except NothingRecorded as exc:
        # Killed as it started, before its journal's first line (and its status file): stopped, with nothing.
        return {
            "format": "e3suite-status", "version": 1, "pid": None, "state": "stopped", "recorded_nothing": str(exc),
            "run": {}, "elapsed": 0.0, "eta": None, "tests": {"total": 0, "done": 0, "by_status": {}},
            "fragments": {"ended": 0}, "running": [], "waiting": [], "retrying": [],
        }
    ended = ended or run.complete or (not has_index and _ended(path))  # the journal is read once for it
    # A stopped run's index is rebuilt: its unfinished testcases have no record.
    done = [e for e in run.entries if ended or e.get("record") is not None]
    return {
        "format": "e3suite-status",
        "version": 1,
        "pid": status.get("pid") if status is not None else None,
        "state": "ended" if ended else "stopped",
        "run": run.run,
        "elapsed": run.run.get("duration") or (status.get("elapsed") if status is not None else None) or 0.0,
        "eta": None,
        "tests": {"total": len(run.entries), "done": len(done), "by_status": _by_status(done)},
        "fragments": {"ended": _count(path, "fragment_ended")},
        "running": [],
        "waiting": [],
        "retrying": [],
    }


def _count(path: Path, event: str) -> int:
    """How many ``event`` lines the journal holds (the others are not parsed)."""
    return sum(1 for e in store.read_journal(path, only=f'"{event}"'.encode()) if e.get("event") == event)


def _ended(path: Path) -> bool:
    return any(e.get("event") == "run_ended" for e in store.read_journal(path, only=b'"run_ended"'))


def _by_status(entries: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in entries:
        status = str(entry.get("status"))
        counts[status] = counts.get(status, 0) + 1
    return counts


def _show(status: dict[str, Any], as_json: bool, clear: bool = False, one_line: bool = False) -> None:
    if as_json:
        # --watch --json: one object a line (JSON lines), that a script reads line by line.
        print(json.dumps(status, indent=None if one_line else 1), flush=True)
        return
    # A run that recorded nothing has no state to render (no start, no testcase): it says so.
    text = f"e3suite: {status['recorded_nothing']}\n" if status.get("recorded_nothing") else render(status, time.time())
    sys.stdout.write(("\x1b[H\x1b[2J" if clear else "") + text)
    sys.stdout.flush()


def _wait(path: Path, what: str, timeout: float | None, as_json: bool) -> int:
    deadline = None if timeout is None else time.monotonic() + timeout
    offset = 0
    seen = _Discovered()
    while True:
        if what == "done":
            status = current(path)
            if status["state"] == "ended":
                _show(status, as_json)
                return 0
            if status["state"] == "stopped":
                _show(status, as_json)
                return 1
        else:
            verdict, offset = _find_verdict(path, what, offset, seen)
            state = "running"
            if verdict is None:
                status = current(path)
                state = status["state"]
                if status.get("recorded_nothing"):
                    # Not "no testcase of that id": it stopped before it said which testcases it has.
                    print(f"e3suite: {status['recorded_nothing']}: no verdict for {printable(what)}", file=sys.stderr)
                    return 1
                if state != "running":
                    # Its journal is whole now, and may hold the verdict it wrote
                    # between the look above and its end.
                    verdict, offset = _find_verdict(path, what, offset, seen)
                    seen.complete = True
            if verdict is None and seen.complete and not seen.may_have(what):
                # A typo must not block until the run is over (or --timeout).
                print(f"e3suite: --wait {printable(what)}: no testcase of that id in this run", file=sys.stderr)
                return 2
            if verdict is not None:
                if as_json:
                    print(json.dumps(verdict))
                else:
                    print(_verdict_line(verdict, what))
                return 0
            if state != "running":
                print(f"e3suite: the run {state} without a verdict for {what}", file=sys.stderr)
                return 1
        if deadline is not None and time.monotonic() >= deadline:
            print(f"e3suite: --wait {what}: still waiting after {timeout:g} s", file=sys.stderr)
            return 1
        time.sleep(POLL)


def _verdict_line(event: dict[str, Any], test_id: str) -> str:
    """The testcase's line as the run's terminal printed it: ``FLAKY  a/b: ok (attempt 2 of 3 passed)``."""
    record = event.get("result")
    if isinstance(record, dict):
        try:
            return result_line(TestResult.from_json(record))
        except (KeyError, TypeError, ValueError):
            pass  # a record of another version: the event's own fields below
    message = event.get("message") or ""
    line = f"{event.get('status')!s:<6} {printable(test_id)}"
    return line + (f": {printable(str(message))}" if message else "")


class _Discovered:
    """The testcases a run's journal announced; complete once anything came after them.

    The engine announces every testcase (test_discovered) before any
    fragment starts, so a later event means the list is whole.
    """

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.complete = False
        self.carries = False  # a --failed run also writes results it did not run, at its end

    def see(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "run_started":
            argv = event.get("argv")
            self.carries = isinstance(argv, list) and bool({"--failed", "--skip-passed"} & set(map(str, argv)))
        elif kind == "test_discovered" or (kind == "test_result" and event.get("carried_over")):
            self.ids.add(str(event.get("test")))
        elif self.ids and not self.carries:
            self.complete = True

    def may_have(self, test_id: str) -> bool:
        """A discovered id, or one of their sub-results (``<id>/<name>``, announced by their result only)."""
        return test_id in self.ids or any(test_id.startswith(f"{i}/") for i in self.ids)


def _find_verdict(
    path: Path, test_id: str, offset: int, seen: _Discovered | None = None
) -> tuple[dict[str, Any] | None, int]:
    """The test_result line of ``test_id`` in the journal, read from byte ``offset`` on (whole lines only)."""
    try:
        with open(path / store.JOURNAL, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return None, offset
    end = data.rfind(b"\n") + 1
    for line in data[:end].splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        if seen is not None:
            seen.see(event)
        if event.get("event") == "test_result" and event.get("test") == test_id:
            return event, offset + end
    return None, offset + end


__all__ = ["add_arguments", "alive", "current", "run"]
