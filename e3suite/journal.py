"""The journal of a results directory: an append-only file of JSON lines, and the thread that writes it.

``Journal`` appends whole lines, a batch at a time, and keeps the first
write that fails instead of raising it deep in the engine. ``WriterThread``
runs batches of writes in order, off the engine's thread (see
``store.ResultsWriter``, which owns both and decides what goes where).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: One encoder for every line: json.dumps with separators makes one per call.
_encode = json.JSONEncoder(separators=(",", ":")).encode


class Journal:
    """Append-only JSON-lines event log, flushed at every event (or batch of events: ``hold``).

    A write that fails (disk full...) is not raised at the caller, which may
    be deep in the engine: it is kept in ``error`` and the journal writes
    nothing more, so that what it holds stays whole lines.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.error: str | None = None
        # Kept open for the whole run, closed by close(): one open per event
        # would cost more than the event itself. Unbuffered bytes: a failed
        # write leaves nothing in a buffer to be written later, half a line.
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
        self._held: list[str] | None = None  # lines kept for one write (see hold)

    def hold(self) -> None:
        """Keep the next lines for one write at ``release``: a batch of events costs one system call."""
        if self._held is None:
            self._held = []

    def release(self) -> None:
        """Write the lines kept since ``hold``, and write each line at once again."""
        held, self._held = self._held, None
        if held:
            self._append("".join(held))

    def write(self, event: str, **fields: Any) -> None:
        self.write_with(event, fields)

    def write_with(self, event: str, fields: dict[str, Any], encoded: dict[str, str] | None = None) -> None:
        """One line: ``fields``, ``event``, then ``encoded``'s values, already JSON texts (a record)."""
        if self._fd is None:
            return
        line = _encode({**fields, "event": event})
        if encoded:
            line = line[:-1] + "".join(f",{json.dumps(key)}:{text}" for key, text in encoded.items()) + "}"
        line += "\n"
        if self._held is not None:
            self._held.append(line)
        else:
            self._append(line)

    def _append(self, text: str) -> None:
        if self._fd is None:
            return
        # One write call per line or batch of lines: a reader (or a crash)
        # sees whole lines only, except possibly a truncated last one.
        line = memoryview(text.encode())
        left = line
        try:
            while left:  # a short write means the next one tells why
                left = left[os.write(self._fd, left) :]
            # Removed under us (rm -rf DIR/new), the file still takes lines
            # that nobody will ever read: that is a failed write too.
            if os.fstat(self._fd).st_nlink == 0:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(self.path))
        except OSError as exc:
            self.error = describe_write_error(exc, self.path)
            if len(left) < len(line):  # cut the partial write: the journal keeps whole lines
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, os.fstat(self._fd).st_size - (len(line) - len(left)))
            self.close()

    def close(self) -> None:
        self.release()  # the lines of a batch cut short (a record that could not be written) are the journal's
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def describe_write_error(exc: OSError, path: Path) -> str:
    return f"cannot write {exc.filename or path}: {exc.strerror or exc}"


class WriterThread:
    """Runs batches of writes one after the other, in the order they were put."""

    def __init__(self) -> None:
        # A C-level queue: a hand-over costs the engine no Python-level lock dance.
        self._queue: queue.SimpleQueue[list[Callable[[], None]] | threading.Event | None] = queue.SimpleQueue()
        self.failure: str | None = None  # an unexpected exception of a write
        self._put = self._done = 0  # batches put (by the engine), written (by the thread)
        self._thread = threading.Thread(target=self._run, name="e3suite-results-writer", daemon=True)
        self._thread.start()

    def put(self, batch: list[Callable[[], None]]) -> None:
        self._put += 1
        self._queue.put(batch)

    def idle(self) -> bool:
        """Every batch put has been written (each count is written by one thread only)."""
        return self._done == self._put

    def wait_idle(self) -> None:
        done = threading.Event()
        self._queue.put(done)
        done.wait()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if isinstance(item, threading.Event):
                item.set()  # everything put before it is written
                continue
            self.write(item)
            self._done += 1

    def write(self, batch: list[Callable[[], None]]) -> None:
        """Run one batch of writes (in the thread, or in the engine's when the thread is idle)."""
        try:
            for write in batch:
                if self.failure is None:
                    write()  # OSErrors are kept by the writes themselves (ResultsWriter.error)
        except Exception as exc:  # a bug: nothing more is written, the run says why
            self.failure = f"cannot write the results: {type(exc).__name__}: {exc}"
