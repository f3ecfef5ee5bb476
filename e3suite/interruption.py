"""Ctrl-C and SIGTERM outside the engine's loop: the run unwinds to its summary.

While the engine runs, ``Testsuite.run`` handles SIGINT and SIGTERM itself
(running fragments are stopped, the rest is skipped). Before it (discovery,
set-up, planning) and after it (tear-down, reports) Python's defaults would
print a ``KeyboardInterrupt`` traceback or, for SIGTERM, end the process on
the spot: no index, no verdicts for the testcases found, an exit code that
is not 130/143. ``InterruptGuard`` turns both signals into ``RunInterrupted``,
which the Testsuite catches; around what must not be cut in its middle (the
rotation of the results directory, writing its index) the signal waits
until the end of the block.

This module only notes and raises: it never prints, and never touches a
file or a process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType, TracebackType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived outside the engine's loop.

    A KeyboardInterrupt, as Ctrl-C gave before: a hook's ``except Exception``
    does not swallow it, and one that cleans up on ``except
    KeyboardInterrupt`` (then raises again) still does.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class InterruptGuard:
    """Installs handlers for SIGINT and SIGTERM for the ``with`` block.

    ``note(signum)`` hears every one; ``interrupted()`` says whether the run
    was already interrupted (by an earlier signal, or one the engine's own
    handlers took): a signal arriving then in a deferred block is dropped,
    since the run already stops and will say so.
    """

    def __init__(self, note: Callable[[int], None], interrupted: Callable[[], bool]) -> None:
        self._note = note
        self._interrupted = interrupted
        self._previous: dict[int, Any] = {}
        self._deferring = 0
        self._pending: int | None = None

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():  # signal.signal works there only
            self._previous = {sig: signal.signal(sig, self._handle) for sig in SIGNALS}
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """A signal arriving in the block raises at its end, not in its middle."""
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
            if not self._deferring and self._pending is not None:
                signum, self._pending = self._pending, None
                raise RunInterrupted(signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = not self._interrupted()
        self._note(signum)
        if self._deferring:
            if first:
                self._pending = signum
            return
        raise RunInterrupted(signum)


@contextlib.contextmanager
def engine_signals(
    on_signal: Callable[[int], None],
    set_wakeup_fd: Callable[[int | None], None],
    extra: dict[int, Callable[[], None]],
) -> Iterator[None]:
    """While the engine runs: ``on_signal(signum)`` for SIGINT and SIGTERM, ``extra`` actions, a wake-up pipe.

    The wake-up fd (given to the executor with ``set_wakeup_fd``) makes its
    wait return as soon as a signal arrives, instead of at the end of its
    housekeeping period. The handlers in place before come back at the end.
    """
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    handlers: dict[int, Callable[[int, FrameType | None], None]] = {
        sig: lambda signum, frame: on_signal(signum) for sig in SIGNALS
    }
    for sig, action in extra.items():
        handlers[sig] = lambda signum, frame, action=action: action()  # type: ignore[misc]
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    previous_fd = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
    set_wakeup_fd(wake_read)
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous_fd)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        set_wakeup_fd(None)
        os.close(wake_read)
        os.close(wake_write)
