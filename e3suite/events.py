"""The run as one typed stream of events, and the sinks that read it.

Everything a run tells the outside world is an event here, emitted once,
in order: the run started, a testcase was discovered, a fragment waits for
what admission holds back (a resource, a lock), was queued,
started (really: in its slot, with its pid), ended; an attempt failed and
will be retried (after a delay); a testcase finished with its verdict; the
run ended. The journal, the terminal lines, the progress line and the status
file are *sinks* of that one stream: nothing writes the journal beside it.

A sink overrides the handlers of the events it wants; the bus calls only
those (an event nobody handles costs a dictionary look-up). Handlers run in
the engine's thread, in event order; a sink that needs time of its own
(the status file) gets ``housekeeping`` calls between events.

This module holds plain data and the bus: it must never do I/O itself, nor
know the engine, executors or reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from e3suite.model import FragmentState, TestResult, TestStatus


@dataclass(frozen=True)
class RunStarted:
    kind: ClassVar[str] = "run_started"
    info: dict[str, Any]  # start, version, argv, cwd, host, python, jobs, tests_dir, selection...


@dataclass(frozen=True)
class TestDiscovered:
    kind: ClassVar[str] = "test_discovered"
    test_id: str

    __test__ = False


@dataclass(frozen=True)
class FragmentQueued:
    """Handed to the executor: it may wait behind another fragment in a worker."""

    kind: ClassVar[str] = "fragment_queued"
    index: int
    fragment_id: str
    test_id: str
    attempt: int


@dataclass(frozen=True)
class FragmentWaiting:
    """Ready, but admission holds it back: for what (a resource, a lock, slots, a serial fragment)."""

    kind: ClassVar[str] = "fragment_waiting"
    index: int
    fragment_id: str
    test_id: str
    reason: str


@dataclass(frozen=True)
class FragmentStarted:
    kind: ClassVar[str] = "fragment_started"
    index: int
    fragment_id: str
    test_id: str
    attempt: int
    slot: int
    time: float  # time.time() of its real start
    pid: int | None


@dataclass(frozen=True)
class FragmentEnded:
    kind: ClassVar[str] = "fragment_ended"
    index: int
    fragment_id: str
    test_id: str
    attempt: int
    state: FragmentState
    slot: int | None
    start: float | None
    end: float | None
    error: str | None = None


@dataclass(frozen=True)
class AttemptFailed:
    """An attempt of a testcase failed and the testcase will be tried again."""

    kind: ClassVar[str] = "attempt_failed"
    test_id: str
    attempt: int  # the attempt that failed, 1 for the first
    attempts: int  # how many attempts the testcase may make in all
    status: TestStatus  # the verdict that attempt would have had
    message: str
    delay: float  # seconds before the next attempt starts
    rerun: tuple[str, ...]  # the fragments run again


@dataclass(frozen=True)
class TestFinished:
    """A testcase's verdict was decided and is final."""

    kind: ClassVar[str] = "test_finished"
    result: TestResult

    __test__ = False


@dataclass(frozen=True)
class RunEnded:
    kind: ClassVar[str] = "run_ended"
    end: float
    duration: float
    interrupted: bool
    stop_reason: str | None = None


Event = (
    RunStarted | TestDiscovered | FragmentWaiting | FragmentQueued | FragmentStarted | FragmentEnded
    | AttemptFailed | TestFinished | RunEnded
)

EVENT_KINDS = tuple(
    cls.kind
    for cls in (
        RunStarted, TestDiscovered, FragmentWaiting, FragmentQueued, FragmentStarted, FragmentEnded,
        AttemptFailed, TestFinished, RunEnded,
    )
)


class Sink:
    """Base of the sinks: one no-op handler per event kind, override what you need.

    ``failure``: set by a sink that cannot go on (the results directory
    cannot be written); the engine stops scheduling when one is set.
    """

    @property
    def failure(self) -> str | None:
        return None

    def run_started(self, event: RunStarted) -> None:
        pass

    def test_discovered(self, event: TestDiscovered) -> None:
        pass

    def fragment_waiting(self, event: FragmentWaiting) -> None:
        pass

    def fragment_queued(self, event: FragmentQueued) -> None:
        pass

    def fragment_started(self, event: FragmentStarted) -> None:
        pass

    def fragment_ended(self, event: FragmentEnded) -> None:
        pass

    def attempt_failed(self, event: AttemptFailed) -> None:
        pass

    def test_finished(self, event: TestFinished) -> None:
        pass

    def run_ended(self, event: RunEnded) -> None:
        pass

    def housekeeping(self, now: float) -> None:
        """Called between events, at least twice a second while the run goes (``time.monotonic()``)."""


class EventBus:
    """Delivers each event to the sinks that handle its kind, in the order they were given."""

    def __init__(self, sinks: Iterable[Sink] = ()) -> None:
        self.sinks: list[Sink] = []
        self._handlers: dict[str, list[Callable[[Any], None]]] = {kind: [] for kind in EVENT_KINDS}
        self._tickers: list[Callable[[float], None]] = []
        for sink in sinks:
            self.add(sink)

    def add(self, sink: Sink) -> None:
        self.sinks.append(sink)
        for kind in EVENT_KINDS:
            if getattr(type(sink), kind) is not getattr(Sink, kind):
                self._handlers[kind].append(getattr(sink, kind))
        if type(sink).housekeeping is not Sink.housekeeping:
            self._tickers.append(sink.housekeeping)

    def emit(self, event: Event) -> None:
        for handler in self._handlers[event.kind]:
            handler(event)

    def housekeeping(self, now: float) -> None:
        for ticker in self._tickers:
            ticker(now)

    @property
    def failure(self) -> str | None:
        """The first sink that cannot go on, as one line."""
        for sink in self.sinks:
            if sink.failure is not None:
                return sink.failure
        return None
