"""The ``t`` key in the run's own terminal: print the run's status, as SIGUSR1 does.

Only when both stdin and stdout are terminals: stdin then goes to cbreak mode
(keys arrive one by one, not echoed, Ctrl-C still a signal) for the run and
is put back as it was at the end, however the run ends (unless the run
is in the background then: its shell has taken the terminal back). A
daemon thread reads keys, only while the run is in the foreground; it only
calls the function it was given. Nothing here is used
by a run whose stdin is a file, a pipe or /dev/null (CI).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import sys
import threading
from collections.abc import Callable
from typing import Any


class StatusKeys:
    def __init__(self, on_key: Callable[[], None]) -> None:
        import termios
        import tty

        self.fd = sys.stdin.fileno()
        self.saved: Any = termios.tcgetattr(self.fd)
        self._termios = termios
        self._tty = tty
        self._mode = threading.Lock()  # restore() and the reader's cbreak never cross
        tty.setcbreak(self.fd)
        atexit.register(self.restore)
        self.on_key = on_key
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._read, name="e3suite-keys", daemon=True)
        self.thread.start()

    def _foreground(self) -> bool:
        """Whether the run holds the terminal: a run put in the background (Ctrl-Z, ``bg``) does not."""
        try:
            return os.tcgetpgrp(self.fd) == os.getpgrp()
        except OSError:
            return False

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                readable, _, _ = select.select([self.fd], [], [], 0.2)
                if not readable and self._foreground():
                    self._keep_cbreak()
                if not readable or not self._foreground():
                    # Reading the terminal from the background stops the whole run (SIGTTIN).
                    if readable:
                        self._stop.wait(0.2)
                    continue
                key = os.read(self.fd, 1)
            except (OSError, ValueError):
                return
            if not key:
                return
            if key in (b"t", b"T"):
                self.on_key()

    def _keep_cbreak(self) -> None:
        """Back in the foreground after Ctrl-Z and ``fg``, the shell's mode is in force: cbreak again."""
        with self._mode:
            if self.saved is None or self._stop.is_set():
                return
            with contextlib.suppress(OSError, self._termios.error):
                if self._termios.tcgetattr(self.fd)[3] & (self._termios.ICANON | self._termios.ECHO):
                    self._tty.setcbreak(self.fd)

    def restore(self) -> None:
        with self._mode:
            self._restore()

    def _restore(self) -> None:
        if self.saved is not None and not self._foreground():
            # Put in the background (Ctrl-Z, then `bg`), the run would be stopped by
            # SIGTTOU here, its summary never printed ("Stopped (tty output)"); the
            # shell that took the terminal back has set the mode it wants.
            self.saved = None
        if self.saved is not None:
            with contextlib.suppress(OSError, self._termios.error):
                self._termios.tcsetattr(self.fd, self._termios.TCSADRAIN, self.saved)
            self.saved = None

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(1.0)
        self.restore()


def status_keys(on_key: Callable[[], None]) -> StatusKeys | None:
    """A key reader when stdin and stdout are terminals (and we are in the foreground), else None."""
    try:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            return None
        if os.tcgetpgrp(sys.stdin.fileno()) != os.getpgrp():
            return None  # in the background: reading would stop us (SIGTTIN)
        return StatusKeys(on_key)
    except (OSError, ValueError, AttributeError, ImportError):
        return None
