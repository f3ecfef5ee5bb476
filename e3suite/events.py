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
from typing import Any, ClassVar

from e3suite.model import FragmentState, TestResult, TestStatus

_set = object.__setattr__


class _Event:
    """Immutable, compared, hashed and shown field by field, as ``@dataclass(frozen=True)`` would.

    Written by hand: every run imports this module, and each frozen
    dataclass compiles six methods with ``exec`` at import (about 4 million
    instructions, 0.8 ms, per class; docs/performance.md, Start-up).
    """

    # Each subclass lists its fields in its constructor's order, which
    # __reduce__ and __repr__ follow: not sorted (RUF023 is off here).
    __slots__: ClassVar[tuple[str, ...]] = ()
    kind: ClassVar[str]

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__qualname__}({fields})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), self._values()


class RunStarted(_Event):
    __slots__ = ("info",)
    kind: ClassVar[str] = "run_started"
    info: dict[str, Any]  # start, version, argv, cwd, host, python, jobs, tests_dir, selection...

    def __init__(self, info: dict[str, Any]) -> None:
        _set(self, "info", info)


class TestDiscovered(_Event):
    __slots__ = ("test_id",)
    kind: ClassVar[str] = "test_discovered"
    test_id: str

    __test__ = False

    def __init__(self, test_id: str) -> None:
        _set(self, "test_id", test_id)


class FragmentQueued(_Event):
    """Handed to the executor: it may wait behind another fragment in a worker."""

    __slots__ = ("index", "fragment_id", "test_id", "attempt")
    kind: ClassVar[str] = "fragment_queued"
    index: int
    fragment_id: str
    test_id: str
    attempt: int

    def __init__(self, index: int, fragment_id: str, test_id: str, attempt: int) -> None:
        _set(self, "index", index)
        _set(self, "fragment_id", fragment_id)
        _set(self, "test_id", test_id)
        _set(self, "attempt", attempt)


class FragmentWaiting(_Event):
    """Ready, but admission holds it back: for what (a resource, a lock, slots, a serial fragment)."""

    __slots__ = ("index", "fragment_id", "test_id", "reason")
    kind: ClassVar[str] = "fragment_waiting"
    index: int
    fragment_id: str
    test_id: str
    reason: str

    def __init__(self, index: int, fragment_id: str, test_id: str, reason: str) -> None:
        _set(self, "index", index)
        _set(self, "fragment_id", fragment_id)
        _set(self, "test_id", test_id)
        _set(self, "reason", reason)


class FragmentStarted(_Event):
    __slots__ = ("index", "fragment_id", "test_id", "attempt", "slot", "time", "pid")
    kind: ClassVar[str] = "fragment_started"
    index: int
    fragment_id: str
    test_id: str
    attempt: int
    slot: int
    time: float  # time.time() of its real start
    pid: int | None

    def __init__(
        self, index: int, fragment_id: str, test_id: str, attempt: int, slot: int, time: float, pid: int | None
    ) -> None:
        _set(self, "index", index)
        _set(self, "fragment_id", fragment_id)
        _set(self, "test_id", test_id)
        _set(self, "attempt", attempt)
        _set(self, "slot", slot)
        _set(self, "time", time)
        _set(self, "pid", pid)


class FragmentEnded(_Event):
    __slots__ = ("index", "fragment_id", "test_id", "attempt", "state", "slot", "start", "end", "error")
    kind: ClassVar[str] = "fragment_ended"
    index: int
    fragment_id: str
    test_id: str
    attempt: int
    state: FragmentState
    slot: int | None
    start: float | None
    end: float | None
    error: str | None

    def __init__(
        self,
        index: int,
        fragment_id: str,
        test_id: str,
        attempt: int,
        state: FragmentState,
        slot: int | None,
        start: float | None,
        end: float | None,
        error: str | None = None,
    ) -> None:
        _set(self, "index", index)
        _set(self, "fragment_id", fragment_id)
        _set(self, "test_id", test_id)
        _set(self, "attempt", attempt)
        _set(self, "state", state)
        _set(self, "slot", slot)
        _set(self, "start", start)
        _set(self, "end", end)
        _set(self, "error", error)


class AttemptFailed(_Event):
    """An attempt of a testcase failed and the testcase will be tried again."""

    __slots__ = ("test_id", "attempt", "attempts", "status", "message", "delay", "rerun")
    kind: ClassVar[str] = "attempt_failed"
    test_id: str
    attempt: int  # the attempt that failed, 1 for the first
    attempts: int  # how many attempts the testcase may make in all
    status: TestStatus  # the verdict that attempt would have had
    message: str
    delay: float  # seconds before the next attempt starts
    rerun: tuple[str, ...]  # the fragments run again

    def __init__(
        self,
        test_id: str,
        attempt: int,
        attempts: int,
        status: TestStatus,
        message: str,
        delay: float,
        rerun: tuple[str, ...],
    ) -> None:
        _set(self, "test_id", test_id)
        _set(self, "attempt", attempt)
        _set(self, "attempts", attempts)
        _set(self, "status", status)
        _set(self, "message", message)
        _set(self, "delay", delay)
        _set(self, "rerun", rerun)


class TestFinished(_Event):
    """A testcase's verdict was decided and is final."""

    __slots__ = ("result",)
    kind: ClassVar[str] = "test_finished"
    result: TestResult

    __test__ = False

    def __init__(self, result: TestResult) -> None:
        _set(self, "result", result)


class RunStopping(_Event):
    """The run stops before its end (an interruption, ``--max-time``): its running fragments are being ended."""

    __slots__ = ("reason", "running", "grace")
    kind: ClassVar[str] = "run_stopping"
    reason: str  # "interrupted", "time limit reached (--max-time 60 s)"
    running: int  # fragments running (or queued in a worker) at that moment
    grace: float  # seconds their commands get between SIGTERM and SIGKILL

    def __init__(self, reason: str, running: int, grace: float) -> None:
        _set(self, "reason", reason)
        _set(self, "running", running)
        _set(self, "grace", grace)


class RunEnded(_Event):
    __slots__ = ("end", "duration", "interrupted", "stop_reason")
    kind: ClassVar[str] = "run_ended"
    end: float
    duration: float
    interrupted: bool
    stop_reason: str | None

    def __init__(self, end: float, duration: float, interrupted: bool, stop_reason: str | None = None) -> None:
        _set(self, "end", end)
        _set(self, "duration", duration)
        _set(self, "interrupted", interrupted)
        _set(self, "stop_reason", stop_reason)


Event = (
    RunStarted | TestDiscovered | FragmentWaiting | FragmentQueued | FragmentStarted | FragmentEnded
    | AttemptFailed | TestFinished | RunStopping | RunEnded
)

EVENT_KINDS = tuple(
    cls.kind
    for cls in (
        RunStarted, TestDiscovered, FragmentWaiting, FragmentQueued, FragmentStarted, FragmentEnded,
        AttemptFailed, TestFinished, RunStopping, RunEnded,
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

    def run_stopping(self, event: RunStopping) -> None:
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
