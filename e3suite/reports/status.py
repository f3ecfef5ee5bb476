"""The live status of a run: ``DIR/new/status.json``, a sink of the run's events.

While a run goes, its results directory holds ``status.json``, replaced
atomically (write, then rename, in a thread of its own) at most
``MIN_INTERVAL`` apart: counts by
state, the time left, each running fragment (id, slot, attempt, pid, start,
expected duration from history), and what waiting fragments wait for (a
free slot, a predecessor, a retry's delay). ``e3suite status`` reads it from
another terminal (see ``e3suite.reports.status_command``); SIGUSR1 or the
``t`` key prints the same snapshot in the run's own terminal.

The sink follows the event stream only: it never reads the engine's state.
It knows the plan (ids and edges), to say what a fragment waits for.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from e3suite.admission import BACK_TO_A_SLOT
from e3suite.atomic import write_atomic
from e3suite.events import (
    AttemptFailed,
    FragmentEnded,
    FragmentQueued,
    FragmentStarted,
    FragmentWaiting,
    RunEnded,
    RunStarted,
    Sink,
    TestFinished,
)
from e3suite.plan import Plan
from e3suite.process_tree import process_start
from e3suite.reports.progress import Estimate, format_clock
from e3suite.store import STATUS, ResultsWriter, engine_alive, pid_alive

FORMAT = "e3suite-status"
VERSION = 1
#: Seconds between two writes of the status file, at least.
MIN_INTERVAL = 0.5
#: Seconds the engine's period between two looks may fall short of MIN_INTERVAL (clocks, rounding).
CLOCK_SLACK = 0.02
#: Waiting fragments listed (the others are counted).
WAITING_SHOWN = 20


class StatusSink(Sink):
    def __init__(
        self,
        results_dir: Path,
        plan: Plan,
        jobs: int,
        history: dict[str, float],
        printer: Any = None,
        clock: Any = time.time,
        run_info: dict[str, Any] | None = None,
    ) -> None:
        self.path = results_dir / STATUS
        self.plan = plan
        self.jobs = jobs
        self.printer = printer  # a TerminalReporter, for SIGUSR1 and the t key
        self.clock = clock
        self.estimate = Estimate(plan.tests, history, jobs, time.monotonic)
        self.history = history
        self.info: dict[str, Any] = {}
        if run_info is not None:
            self._keep_info(run_info)
        start = self.info.get("start")
        self.started_at = float(start) if isinstance(start, (int, float)) else clock()
        self.running: dict[int, dict[str, Any]] = {}
        self.queued: set[int] = set()
        self.ended: set[int] = set()
        self.retrying: dict[str, dict[str, Any]] = {}
        self.held: dict[int, str] = {}  # ready fragments admission holds back: for what
        self.by_status: dict[str, int] = {}
        self.tests_done = 0
        self.state = "running"
        self.stop_reason: str | None = None
        self._dirty = True
        self._asked_at = float("-inf")  # when housekeeping last wrote the file
        self._scan_from = 0  # fragments before it have all ended
        self._print_requested = False
        self.last: dict[str, Any] | None = None
        self._writer = _FileWriter(self.path)

    # -- the events ------------------------------------------------------------

    def run_started(self, event: RunStarted) -> None:
        self._keep_info(event.info)
        self._changed()

    def _keep_info(self, info: dict[str, Any]) -> None:
        self.info = {k: info.get(k) for k in ("start", "argv", "cwd", "host", "jobs")}

    def fragment_waiting(self, event: FragmentWaiting) -> None:
        if event.reason == BACK_TO_A_SLOT:  # only a slot keeps it back now: what it waited for before is over
            self.held.pop(event.index, None)
        else:
            self.held[event.index] = event.reason
        self._changed()

    def fragment_queued(self, event: FragmentQueued) -> None:
        self.queued.add(event.index)
        self.held.pop(event.index, None)
        self._changed()

    def fragment_started(self, event: FragmentStarted) -> None:
        self.queued.discard(event.index)
        self.held.pop(event.index, None)
        self.estimate.started(event.test_id)
        self.running[event.index] = {
            "test": event.test_id,
            "fragment": event.fragment_id,
            "slot": event.slot,
            "attempt": event.attempt,
            "pid": event.pid,
            "start": event.time,
            "expected": self._expected(event.test_id),
        }
        self.retrying.pop(event.test_id, None)
        self._changed()

    def fragment_ended(self, event: FragmentEnded) -> None:
        self.queued.discard(event.index)
        self.running.pop(event.index, None)
        self.ended.add(event.index)
        self._changed()

    def attempt_failed(self, event: AttemptFailed) -> None:
        for fragment_id in event.rerun:
            test_id, _, name = fragment_id.rpartition(":")
            index = self.plan.tests[test_id].fragments.get(name) if test_id in self.plan.tests else None
            if index is not None:
                self.ended.discard(index)
        self.retrying[event.test_id] = {
            "test": event.test_id,
            "attempt": event.attempt + 1,
            "attempts": event.attempts,
            "at": self.clock() + event.delay,
        }
        self.estimate.retrying(event.test_id, event.delay)
        self._scan_from = 0
        self._changed()

    def test_finished(self, event: TestFinished) -> None:
        result = event.result
        if result.carried_over:
            return
        self.tests_done += 1
        self.estimate.finished(result.test_id, result.duration)
        planned = self.plan.tests.get(result.test_id)
        if planned is not None:  # its skipped fragments too: none of them waits any more
            self.ended.update(planned.fragments.values())
            # Nor is one queued: a fragment an executor gave back unstarted
            # (then not run: interrupted, a failure limit) was never told ended.
            self.queued.difference_update(planned.fragments.values())
        status = result.status.value if result.status else "ERROR"
        self.by_status[status] = self.by_status.get(status, 0) + 1
        self.retrying.pop(result.test_id, None)
        if planned is not None:
            for index in planned.fragments.values():
                self.held.pop(index, None)
        self._changed()

    def run_ended(self, event: RunEnded) -> None:
        self.state = "ended"
        self.info["end"] = event.end
        self.info["interrupted"] = event.interrupted
        self.write(wait=True)

    def housekeeping(self, now: float) -> None:
        if self._print_requested:
            self._print_requested = False
            if self.printer is not None:
                self.printer.write(render(self.snapshot(), self.clock()))
        # The engine looks in every MIN_INTERVAL when nothing happens: the
        # write must be due by then, as of when the last one was asked for
        # (not after it, nor by a hair less: that missed every other look,
        # a fragment of a second ran without the file ever saying so).
        asked = self.clock()
        if self._dirty and asked - self._asked_at >= MIN_INTERVAL - CLOCK_SLACK:
            self._asked_at = asked
            self.write()

    # -- the snapshot ----------------------------------------------------------

    def request_print(self) -> None:
        """SIGUSR1 or the t key (any thread, or a signal handler): print the snapshot at the next housekeeping."""
        self._print_requested = True

    def _changed(self) -> None:
        self._dirty = True

    def _expected(self, test_id: str) -> float | None:
        planned = self.plan.tests.get(test_id)
        expected = self.estimate.expected(test_id)
        if expected is None or planned is None:
            return None
        return round(expected / max(1, len(planned.fragments)), 3)

    def snapshot(self) -> dict[str, Any]:
        fragments = self.plan.fragments
        total = len(fragments)
        waiting, waiting_count = self._waiting()
        return {
            "format": FORMAT,
            "version": VERSION,
            "pid": os.getpid(),
            "pid_start": own_start(),
            "state": self.state,
            "updated": self.clock(),
            "run": self.info,
            "elapsed": round(self.clock() - self.started_at, 3),
            "eta": None if self.state == "ended" else _rounded(self.estimate.left()),
            "tests": {"total": len(self.plan.tests), "done": self.tests_done, "by_status": dict(self.by_status)},
            "fragments": {
                "total": total,
                "running": len(self.running),
                "queued": len(self.queued),
                "ended": len(self.ended),
                "waiting": waiting_count,
                "held": len(self.held),  # ready, but waiting for a resource, a lock, slots or a serial fragment
            },
            "running": sorted(self.running.values(), key=lambda r: (r["slot"] is None, r["slot"], r["fragment"])),
            "waiting": waiting,
            "retrying": sorted(self.retrying.values(), key=lambda r: r["test"]),
        }

    def _waiting(self) -> tuple[list[dict[str, Any]], int]:
        """The first waiting fragments in plan order, with what each waits for; and how many wait."""
        fragments = self.plan.fragments
        ended, running, queued = self.ended, self.running, self.queued
        while self._scan_from < len(fragments) and self._scan_from in ended:
            self._scan_from += 1
        shown: list[dict[str, Any]] = []
        count = len(fragments) - len(ended) - len(running) - len(queued)
        for fragment in fragments[self._scan_from :]:
            if len(shown) >= WAITING_SHOWN:
                break
            index = fragment.index
            if index in ended or index in running or index in queued:
                continue
            retry = self.retrying.get(fragment.test_id)
            entry: dict[str, Any] = {"test": fragment.test_id, "fragment": fragment.fragment_id}
            if index in self.held:
                entry["waits_for"] = self.held[index]
            elif retry is not None and retry["at"] > self.clock():
                entry["waits_for"] = f"retry (attempt {retry['attempt']} of {retry['attempts']})"
                entry["retry_at"] = retry["at"]  # Unix time
            else:
                preds = [fragments[p].fragment_id for p in fragment.preds if p not in ended]
                entry["waits_for"] = ", ".join(preds) if preds else "a free slot"
            shown.append(entry)
        return shown, max(0, count)

    def write(self, wait: bool = False) -> None:
        """Replace the status file (a reader never sees half of one), from the writer thread.

        On ext4 a rename over an existing file starts writing the new one
        out at once (``auto_da_alloc``): 10 ms here, which the engine's loop
        must not wait for. ``wait``: the last write of the run, done before
        returning.
        """
        self.last = snapshot = self.snapshot()
        self._writer.put(json.dumps(snapshot, separators=(",", ":")))
        self._dirty = False
        if wait:
            self._writer.close()


class _FileWriter:
    """A thread that writes the latest text given to it to ``path``, atomically; older texts are dropped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._text: str | None = None
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="e3suite-status", daemon=True)
        self._thread.start()

    def put(self, text: str) -> None:
        with self._cond:
            self._text = text
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(10)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._text is None and not self._closed:
                    self._cond.wait()
                text, self._text = self._text, None
                closing = self._closed
            if text is not None:
                # The journal's sink reports write errors; a status is best effort.
                with contextlib.suppress(OSError):
                    write_atomic(self.path, text)
            if closing and self._text is None:
                return


def write_starting(writer: ResultsWriter, run_info: dict[str, Any]) -> None:
    """The journal's first line written, and the status of a run without a plan yet: running, starting.

    Set-up and planning may take long (a build); meanwhile another terminal
    must not take the run for one that stopped (no status file) nor its
    directory for no results directory (an empty journal). The StatusSink
    replaces this status once the plan is made.
    """
    writer.drain()
    status = {
        "format": FORMAT, "version": VERSION, "pid": os.getpid(), "pid_start": own_start(),
        "state": "running", "phase": "starting",
        "updated": time.time(), "run": {k: run_info.get(k) for k in ("start", "argv", "cwd", "host", "jobs")},
        "elapsed": 0.0, "eta": None, "tests": {"total": 0, "done": 0, "by_status": {}},
        "fragments": {"total": 0, "running": 0, "queued": 0, "ended": 0, "waiting": 0, "held": 0},
        "running": [], "waiting": [], "retrying": [],
    }
    with contextlib.suppress(OSError):  # the journal's sink reports write errors; a status is best effort
        write_atomic(writer.path / STATUS, json.dumps(status, separators=(",", ":")))


def _rounded(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


alive = pid_alive


_own: dict[int, int | None] = {}


def own_start() -> int | None:
    """``process_start`` of this process (read once per process: a fork has its own)."""
    pid = os.getpid()
    if pid not in _own:
        _own[pid] = process_start(pid)
    return _own[pid]


def render(status: dict[str, Any], now: float) -> str:
    """The snapshot for a person, several lines."""
    tests = status.get("tests") or {}
    frags = status.get("fragments") or {}
    state = status.get("state")
    seconds = float(status.get("elapsed") or 0.0)
    updated = status.get("updated")
    # The file is rewritten when something happens, not as time passes: while
    # long fragments run it may be minutes old. A running run's clocks are
    # read at ``now``, as the running fragments' are below.
    stale = max(0.0, now - float(updated)) if state == "running" and isinstance(updated, (int, float)) else 0.0
    elapsed = format_clock(seconds + stale)
    if state == "ended":
        interrupted = ", interrupted" if (status.get("run") or {}).get("interrupted") else ""
        # No pid: no (readable) status file (copied from CI without it), or e3suite merge's directory.
        pid = f" (pid {status['pid']})" if status.get("pid") is not None else ""
        head = f"e3suite: the run{pid} ended after {elapsed}{interrupted}"
    elif state == "stopped":
        pid = f" (pid {status['pid']})" if status.get("pid") is not None else ""
        host = (status.get("run") or {}).get("host")
        if isinstance(host, str) and host and host != socket.gethostname():
            # Results fetched from elsewhere, or a shared file system: nothing here can tell.
            head = f"e3suite: the run did not finish: its engine{pid} ran on {host}, not on this host"
        else:
            head = f"e3suite: the run stopped without finishing: its engine{pid} is gone"
    elif status.get("phase") == "starting":
        start = (status.get("run") or {}).get("start")
        since = format_clock(max(0.0, now - start)) if isinstance(start, (int, float)) else elapsed
        return (
            f"e3suite: run of pid {status.get('pid')}, starting for {since}: "
            "set-up and planning, no testcase runs yet\n"
        )
    else:
        eta = status.get("eta")
        left = f", ~{format_clock(max(0.0, eta - stale))} left" if isinstance(eta, (int, float)) else ""
        head = f"e3suite: run of pid {status.get('pid')}, running for {elapsed}{left}"
    by_status = tests.get("by_status") or {}
    verdicts = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
    lines = [
        head,
        f"testcases: {tests.get('done', 0)}/{tests.get('total', 0)} done" + (f": {verdicts}" if verdicts else ""),
        f"fragments: {frags.get('running', 0)} running, {frags.get('queued', 0)} queued, "
        f"{frags.get('waiting', 0)} waiting, {frags.get('ended', 0)} ended",
    ]
    running = status.get("running") or []
    if running and state == "running":
        lines.append("running:")
        for r in running:
            spent = format_clock(max(0.0, now - float(r.get("start") or now)))
            expected = r.get("expected")
            exp = f" (expected {format_clock(expected)})" if isinstance(expected, (int, float)) else ""
            attempt = f" attempt {r['attempt']}" if r.get("attempt", 1) != 1 else ""
            pid = f" pid {r['pid']}" if r.get("pid") else ""
            lines.append(f"  slot {r.get('slot')}  {r.get('fragment')}{attempt}{pid}  {spent}{exp}")
    waiting = status.get("waiting") or []
    if waiting and state == "running":
        lines.append("waiting:")
        for w in waiting:
            at = w.get("retry_at")
            due = f" in {format_clock(max(0.0, float(at) - now))}" if isinstance(at, (int, float)) else ""
            lines.append(f"  {w.get('fragment')}  for {w.get('waits_for')}{due}")
        more = int(frags.get("waiting", 0)) - len(waiting)
        if more > 0:
            lines.append(f"  ... and {more} more")
    return "\n".join(lines) + "\n"


def read_status(results_dir: Path) -> dict[str, Any] | None:
    """The status of the run in ``results_dir`` as its file says, ``state`` corrected: a dead engine is "stopped"."""
    try:
        status = json.loads((results_dir / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(status, dict) or status.get("format") != FORMAT:
        return None
    if status.get("state") == "running" and not engine_alive(status):
        status["state"] = "stopped"
    return status
