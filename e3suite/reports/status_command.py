"""``e3suite status [RESULTS_DIR]``: what a run is doing, from another terminal.

Reads the run's ``status.json`` (see ``e3suite.reports.status``) and its
journal; never signals or touches the run. A finished run is answered from
its index, a killed one as "stopped without finishing" (its engine's pid is
gone). ``--wait done`` blocks until the run ends, ``--wait TEST_ID`` until
that testcase has a verdict, which it prints; ``--timeout`` bounds both.

Exit codes: 0 (answered; for ``--wait``: the run ended, or the testcase has
its verdict, whatever it is), 1 (``--wait``: time up, or the run stopped
first), 2 (no results directory there, or ``--wait`` names no testcase of
the run).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import e3suite.store as store
from e3suite.reports.status import alive, read_status, render
from e3suite.reports.terminal import printable

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
    parser.add_argument("--interval", type=float, default=1.0, metavar="SECONDS", help="for --watch (default: 1)")
    parser.add_argument(
        "--wait", metavar="done|TEST_ID",
        help="block until the run has ended (done), or until the testcase TEST_ID has a verdict (printed)",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS", help="with --wait: give up after this long (exit 1)"
    )


def run(args: argparse.Namespace) -> int:
    path = Path(args.results_dir)
    if (path / "new").is_dir() and not (path / store.JOURNAL).exists():
        path = path / "new"
    if not (path / store.JOURNAL).is_file():
        print(f"e3suite: error: {path} is not an e3suite results directory (no {store.JOURNAL})", file=sys.stderr)
        return 2
    if args.wait is not None:
        return _wait(path, args.wait, args.timeout, args.json)
    while True:
        status = current(path)
        _show(status, args.json, clear=args.watch and sys.stdout.isatty())
        if not args.watch or status["state"] != "running":
            return 0
        time.sleep(max(0.05, args.interval))


def current(path: Path) -> dict[str, Any]:
    """The status file's view, or one made from the index / journal for a run that has none."""
    status = read_status(path)
    ended_early = False
    if status is not None:
        ended = (path / store.INDEX).is_file() and _ended(path)
        if status["state"] == "running" and ended:
            status["state"] = "ended"
        # A run that ended before its status file left "starting" (its set_up raised, Ctrl-C
        # while planning) has an index all the same: it ended, with the verdicts the index holds.
        ended_early = status.get("phase") == "starting" and ended
        if not ended_early:
            return status
    run = store.load_run(path)
    ended = run.complete or _ended(path)
    pid = status.get("pid") if status is not None and ended_early else None
    return {
        "format": "e3suite-status",
        "version": 1,
        "pid": pid,
        "state": "ended" if ended else "stopped",
        "run": run.run,
        "elapsed": run.run.get("duration") or 0.0,
        "eta": None,
        "tests": {"total": len(run.entries), "done": len(run.entries), "by_status": _by_status(run.entries)},
        "fragments": {},
        "running": [],
        "waiting": [],
        "retrying": [],
    }


def _ended(path: Path) -> bool:
    return any(e.get("event") == "run_ended" for e in store.read_journal(path))


def _by_status(entries: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in entries:
        status = str(entry.get("status"))
        counts[status] = counts.get(status, 0) + 1
    return counts


def _show(status: dict[str, Any], as_json: bool, clear: bool = False) -> None:
    if as_json:
        print(json.dumps(status, indent=1), flush=True)
        return
    text = render(status, time.time())
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
            if verdict is None and seen.complete and not seen.may_have(what):
                # A typo must not block until the run is over (or --timeout).
                print(f"e3suite: --wait {printable(what)}: no testcase of that id in this run", file=sys.stderr)
                return 2
            if verdict is not None:
                if as_json:
                    print(json.dumps(verdict))
                else:
                    message = verdict.get("message") or ""
                    line = f"{verdict.get('status')!s:<6} {printable(what)}"
                    print(line + (f": {printable(message)}" if message else ""))
                return 0
            status = current(path)
            if status["state"] != "running":
                print(f"e3suite: the run {status['state']} without a verdict for {what}", file=sys.stderr)
                return 1
        if deadline is not None and time.monotonic() >= deadline:
            print(f"e3suite: --wait {what}: still waiting after {timeout:g} s", file=sys.stderr)
            return 1
        time.sleep(POLL)


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
        elif kind == "test_discovered":
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
