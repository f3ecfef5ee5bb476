"""Live progress of a run: a status line on a terminal, periodic lines elsewhere.

The status reads ``[ 120/1000] 3 failed, 2 running, 0:12 elapsed, ~1:30 left``.
The time left is estimated from the previous run's durations of the
testcases still to finish (the mean of this run's durations for the ones
the previous run did not have), divided by the number of slots.

Modes (``--progress``): ``bar`` redraws one status line below the result
lines (only sensible on a terminal); ``lines`` prints the status as a plain
line every LINES_INTERVAL seconds, so that a CI log shows the run is alive;
``none``; ``auto`` is ``bar`` on a terminal and ``lines`` otherwise.

A daemon thread ticks so that the elapsed time moves while a long fragment
runs; it only formats and hands text to the TerminalReporter, whose lock
serialises writes. This module never touches the engine's state: it counts
the events it hears.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from e3suite.admission import BACK_TO_A_SLOT
from e3suite.events import (
    AttemptFailed,
    FragmentEnded,
    FragmentQueued,
    FragmentStarted,
    FragmentWaiting,
    Sink,
    TestFinished,
)
from e3suite.reports.terminal import TerminalReporter

#: Seconds between two status lines in ``lines`` mode.
LINES_INTERVAL = 30.0
#: Seconds between two redraws of the status line in ``bar`` mode.
BAR_INTERVAL = 0.5
BAR_WIDTH = 20


def format_clock(seconds: float) -> str:
    """``1:05`` / ``1:02:03``: elapsed and remaining times."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def resolve_mode(mode: str, isatty: bool) -> str:
    if mode == "auto":
        return "bar" if isatty else "lines"
    return mode


class Estimate:
    """The time a run has left, from the previous run's durations.

    What the pending testcases took last time (this run's mean for new
    ones), less what the running ones have already spent, over the slots.
    Kept up to date as testcases finish, not summed over every pending
    testcase at each look (10,000 of them, at every tick).
    """

    def __init__(
        self, test_ids: Iterable[str], previous: dict[str, float], jobs: int, clock: Callable[[], float]
    ) -> None:
        self.pending = set(test_ids)
        self.previous = previous
        self.jobs = max(1, jobs)
        self.clock = clock
        self._known = sum(previous[t] for t in self.pending if t in previous)
        self._unknown = sum(1 for t in self.pending if t not in previous)
        self._observed_total = 0.0
        self._observed_count = 0
        self._started: dict[str, float] = {}  # running testcases: when their first fragment started
        self._retry_due: dict[str, float] = {}  # testcases whose retry waits for its delay: when it is due

    def started(self, test_id: str) -> None:
        self._started.setdefault(test_id, self.clock())
        self._retry_due.pop(test_id, None)

    def retrying(self, test_id: str, delay: float) -> None:
        """An attempt of ``test_id`` failed: a new one starts after ``delay``, with its whole duration left.

        Without this a testcase waiting for its retry counted as running and
        overdue: nothing left, and a run waiting 30 s for a retry said ~0:00.
        """
        self._started.pop(test_id, None)
        self._retry_due[test_id] = self.clock() + delay

    def finished(self, test_id: str, duration: float | None) -> None:
        if test_id in self.pending:
            self.pending.discard(test_id)
            if test_id in self.previous:
                self._known -= self.previous[test_id]
            else:
                self._unknown -= 1
        self._started.pop(test_id, None)
        self._retry_due.pop(test_id, None)
        if duration is not None:
            self._observed_total += duration
            self._observed_count += 1

    def expected(self, test_id: str) -> float | None:
        """What ``test_id`` should take: its last duration, or this run's mean."""
        mean = self._observed_total / self._observed_count if self._observed_count else None
        return self.previous.get(test_id, mean)

    def left(self) -> float | None:
        """Seconds left, or None when nothing is known to estimate from."""
        mean = self._observed_total / self._observed_count if self._observed_count else None
        if self._unknown and mean is None:
            return None
        total = max(0.0, self._known) + self._unknown * (mean or 0.0)
        now = self.clock()
        for test_id, started in self._started.items():
            expected = self.previous.get(test_id, mean)
            if expected is not None:
                total -= min(expected, max(0.0, now - started))
        # A retry cannot end before its delay is over, and its attempt after it.
        waits = (due - now + (self.previous.get(t, mean) or 0.0) for t, due in self._retry_due.items())
        return max(max(0.0, total) / self.jobs, max(waits, default=0.0))


class ProgressListener(Sink):
    """Counts what the engine reports and shows it through a TerminalReporter."""

    def __init__(
        self,
        reporter: TerminalReporter,
        mode: str,
        test_ids: Iterable[str],
        jobs: int,
        previous_durations: dict[str, float] | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reporter = reporter
        self.mode = resolve_mode(mode, reporter.isatty)
        self.pending = set(test_ids)
        self.total = len(self.pending)
        self.jobs = max(1, jobs)
        self.previous = previous_durations or {}
        self.interval = interval if interval is not None else (BAR_INTERVAL if self.mode == "bar" else LINES_INTERVAL)
        self.clock = clock
        self.started_at = clock()
        self.last_line_at = self.started_at
        self.done = 0
        self.failed = 0
        self.running = 0
        self.estimate = Estimate(self.pending, self.previous, self.jobs, clock)
        self.held: dict[int, str] = {}  # fragment -> the resource (lock, slots...) admission holds it back for
        self.held_tests: dict[int, str] = {}  # fragment -> its testcase, for those in held
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the engine's events (main thread) ------------------------------------

    def fragment_waiting(self, event: FragmentWaiting) -> None:
        with self._lock:
            if event.reason == BACK_TO_A_SLOT:  # only a slot keeps it back now: not counted
                self.held.pop(event.index, None)
                self.held_tests.pop(event.index, None)
            else:
                self.held[event.index] = event.reason.split(" (")[0]
                self.held_tests[event.index] = event.test_id

    def fragment_queued(self, event: FragmentQueued) -> None:
        if self.held:
            with self._lock:
                self.held.pop(event.index, None)
                self.held_tests.pop(event.index, None)

    def fragment_started(self, event: FragmentStarted) -> None:
        with self._lock:
            self.running += 1
            self.estimate.started(event.test_id)
        self._ensure_ticking()

    def fragment_ended(self, event: FragmentEnded) -> None:
        with self._lock:
            self.running = max(0, self.running - 1)

    def attempt_failed(self, event: AttemptFailed) -> None:
        with self._lock:
            self.estimate.retrying(event.test_id, event.delay)

    def test_finished(self, event: TestFinished) -> None:
        result = event.result
        if result.carried_over:
            return
        with self._lock:
            if self.held:  # its fragments held back but never queued (skipped, not run) wait no more
                for index in [i for i, test_id in self.held_tests.items() if test_id == result.test_id]:
                    del self.held[index], self.held_tests[index]
            self.done += 1
            self.estimate.finished(result.test_id, result.duration)
            if result.status is not None and result.status.is_failure:
                self.failed += 1
        if self.mode == "bar":
            self.reporter.set_status(self.status_text())

    # -- status -----------------------------------------------------------------

    def estimate_left(self) -> float | None:
        return self.estimate.left()

    def status_text(self) -> str:
        with self._lock:
            width = len(str(self.total))
            parts = [f"[{self.done:>{width}}/{self.total}]"]
            if self.mode == "bar" and self.total:
                filled = BAR_WIDTH * self.done // self.total
                parts.insert(0, "#" * filled + "-" * (BAR_WIDTH - filled))
            text = " ".join(parts)
            elapsed = format_clock(self.clock() - self.started_at)
            # Starts are told when fragments really start: at most `jobs` run
            # (the min() only guards against a late event).
            running = min(self.running, self.jobs)
            text += f" {self.failed} failed, {running} running"
            if self.held:
                counts: dict[str, int] = {}
                for reason in self.held.values():
                    counts[reason] = counts.get(reason, 0) + 1
                text += "".join(f", {n} waiting for {what}" for what, n in sorted(counts.items()))
            text += f", {elapsed} elapsed"
            left = self.estimate_left()
        if left is not None and self.done < self.total:
            text += f", ~{format_clock(left)} left"
        return text

    def tick(self) -> None:
        """One period of the ticker: redraw the bar, or print a line when due."""
        if self.mode == "bar":
            self.reporter.set_status(self.status_text())
        elif self.mode == "lines":
            now = self.clock()
            if now - self.last_line_at >= self.interval:
                self.last_line_at = now
                self.reporter.write("e3suite: " + self.status_text() + "\n")

    # -- the ticker thread ------------------------------------------------------

    def _ensure_ticking(self) -> None:
        if self._thread is not None or self.mode not in ("bar", "lines") or self._stop.is_set():
            return
        period = BAR_INTERVAL if self.mode == "bar" else min(1.0, self.interval)
        self._thread = threading.Thread(target=self._tick_loop, args=(period,), name="e3suite-progress", daemon=True)
        self._thread.start()

    def _tick_loop(self, period: float) -> None:
        while not self._stop.wait(period):
            try:
                self.tick()
            except (OSError, ValueError):  # the stream was closed under us
                return

    def stop(self) -> None:
        """End of the run: stop ticking and remove the status line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.mode == "bar":
            self.reporter.set_status("")
