"""The lock of a results directory: one run at a time writes in ``DIR``.

Two runs with the same ``-o`` would rotate, recycle and write each other's
files. ``output_dir.rotate`` takes ``DIR/.lock`` (an exclusive ``flock``) before
it touches anything, and the results writer releases it once the run's
results are written. The file names its holder, so that the second run
says which run is in the way.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from pathlib import Path

#: The advisory lock of a results directory (``DIR/.lock``), held for the whole run.
LOCK = ".lock"


class ResultsDirBusy(Exception):
    """Another run is writing in the same results directory."""


class ResultsLock:
    """An exclusive ``flock`` on ``DIR/.lock``, naming its holder.

    Two runs with the same ``-o`` would rotate, recycle and write each
    other's files. The lock is taken before the rotation and released when
    the run's results are written; the kernel releases it if the run dies,
    however it dies (once its workers, which share it, are gone too).
    """

    def __init__(self, output_dir: Path) -> None:
        self.path = output_dir / LOCK
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(fd)
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise ResultsDirBusy(
                f"{self.path.parent} is in use by another run ({holder}): "
                "wait for it to end, or give this run another -o directory"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {time.time():.0f}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def _read_holder(fd: int) -> str:
    try:
        words = os.pread(fd, 100, 0).split()
        pid, since = int(words[0]), float(words[1])
    except (OSError, ValueError, IndexError):
        return "pid unknown"
    return f"pid {pid}, started {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))}"


#: Locks this process holds, by results directory (DIR/new): see ``rotate``.
_held: dict[Path, ResultsLock] = {}


def lock_results_dir(output_dir: Path) -> None:
    """Take ``output_dir``'s lock for this process (raises ResultsDirBusy)."""
    key = output_dir.resolve()
    if key not in _held:
        lock = ResultsLock(output_dir)
        lock.acquire()
        _held[key] = lock


def unlock_results_dir(output_dir: Path) -> None:
    lock = _held.pop(output_dir.resolve(), None)
    if lock is not None:
        lock.release()
