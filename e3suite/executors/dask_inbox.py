"""What Dask's threads hand to the Dask executor, and the pipe that wakes it.

The Dask client calls back on its own threads: topic subscriptions on its
event loop (a fragment's start, a fragment's outcome), done-callbacks of
futures in a callback thread. None of them may touch the executor's
state. They append to the deques of an ``Inbox`` (deque operations are
atomic) and write a byte to its pipe; the engine's thread selects on
``fileno()`` and takes everything with ``take()``.

A batch's result is fetched from its worker only when some of its outcomes
did not arrive as events (a lost worker, an outcome too large for an
event): the inbox counts the outcome events of each batch for that.
"""

from __future__ import annotations

import collections
import contextlib
import os
from typing import Any


class Inbox:
    """Hand-over from Dask's threads to the engine's thread (see the module docstring)."""

    def __init__(self) -> None:
        self.client: Any = None  # the distributed.Client, while the executor runs
        # Filled on Dask's threads, emptied by the engine's thread.
        self._events: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self._done: collections.deque[tuple[Any, Any]] = collections.deque()
        # Written by the engine's thread, read on Dask's loop (dict operations are atomic).
        self._size_of: dict[str, int] = {}  # Dask key -> fragments in the batch
        self._key_of: dict[int, str] = {}  # ticket -> Dask key of its batch
        self._outcomes_seen: collections.Counter[str] = collections.Counter()  # Dask key -> outcome events
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    # -- the engine's thread -------------------------------------------------

    def fileno(self) -> int:
        """Readable when something arrived."""
        return self._read

    def has_news(self) -> bool:
        return bool(self._events or self._done)

    def expect(self, key: str, tickets: list[int]) -> None:
        """The batch ``key`` was sent with the fragments ``tickets``."""
        self._size_of[key] = len(tickets)
        for ticket in tickets:
            self._key_of[ticket] = key

    def forget_ticket(self, ticket: int) -> None:
        self._key_of.pop(ticket, None)

    def forget_batch(self, key: str) -> None:
        self._size_of.pop(key, None)
        self._outcomes_seen.pop(key, None)

    def take(self) -> tuple[list[tuple[Any, Any]], list[tuple[str, dict[str, Any]]]]:
        """(batches done, events), in their order of arrival.

        Batches done are taken first: a batch's events came before its
        end, so those taken now are all in the events taken after.
        """
        done = []
        while self._done:
            done.append(self._done.popleft())
        events = []
        while self._events:
            events.append(self._events.popleft())
        return done, events

    def drop_events(self) -> None:
        self._events.clear()

    def drain(self) -> None:
        drain(self._read)

    def close(self) -> None:
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._read = self._write = -1

    # -- Dask's threads ------------------------------------------------------

    def on_start(self, event: Any) -> None:
        message = event[1] if isinstance(event, tuple) else event
        if isinstance(message, dict):
            self._events.append(("start", message))

    def on_outcome(self, event: Any) -> None:
        message = event[1] if isinstance(event, tuple) else event
        if isinstance(message, dict) and isinstance(message.get("data"), bytes):
            key = self._key_of.get(int(message.get("t", -1)))
            if key is not None:
                self._outcomes_seen[key] += 1
            self._events.append(("outcome", message))
            self.wake()

    def on_done(self, future: Any) -> None:
        # Called in Dask's callback thread; the result, when it is needed,
        # is fetched on the client's event loop, after the events that came
        # before it.
        client = self.client
        if client is not None:
            client.loop.add_callback(self._fetch, client, future)

    async def _fetch(self, client: Any, future: Any) -> None:
        data: Any = None
        everything_came = self._outcomes_seen.get(future.key, 0) >= self._size_of.get(future.key, 1)
        if future.status == "error" or (future.status == "finished" and not everything_came):
            try:
                data = await client.gather(future, asynchronous=True)
            except BaseException as exc:  # the batch's Dask error (KilledWorker...), or a lost connection
                data = exc
        self._done.append((future, data))
        self.wake()

    def wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._write, b"x")


def drain(fd: int) -> None:
    """Read a non-blocking file descriptor until it is empty."""
    try:
        while os.read(fd, 4096):
            pass
    except (BlockingIOError, InterruptedError, OSError):
        pass
