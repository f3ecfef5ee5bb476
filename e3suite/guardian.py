"""Guardians: processes that kill what a run leaves running when the process that runs it dies.

``RunGuardian`` is the engine's own: a copy of the engine forked as the run
starts (a millisecond, no interpreter to start), in a session of its own,
told the pid of each local worker as it starts. A SIGKILL of the engine
alone is the workers' business (they get SIGTERM from the kernel and end
their commands), but a SIGKILL of the run's whole process group (a CI job
cancelled with ``kill -9 -PGID``, ``timeout -s KILL``) ends the workers
too, at once, and their commands, each in a session of its own, would run
on under init. The guardian reads a pipe that the engine and its workers
hold: when the last of them is gone without the engine saying the run
ended, it kills every process tree tagged with the engine's or a worker's
pid, then exits.

``python -m e3suite.guardian PID``: kill what process PID leaves running when it dies.

A process that starts commands tagged ``PID:...`` (see process.run) and
cannot be sure it will clean up after itself starts a guardian, holding the
write end of the guardian's standard input. A Dask worker is such a
process: distributed ends it with ``os._exit`` the moment the process that
started it dies (a SIGKILLed engine holding a LocalCluster), and an OOM
kill or a SIGKILL ends it without a word. Whatever the way, the kernel
closes its end of the pipe; the guardian then reads end-of-file, kills
every process tree still tagged ``PID:`` and exits. A guardian runs in a
session of its own: signals sent to its process's group or session do not
end it first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import e3suite.working_roots as working_roots
from e3suite.process_tree import TAG_VARIABLE, exempt_helper, is_live, kill_tagged

#: Scans of the process table after the death: a tree being killed forks no more.
_PASSES = 10


def start(pid: int | None = None) -> subprocess.Popen[bytes]:
    """Start a guardian of ``pid`` (default: this process), which must hold the returned process's stdin."""
    env = {key: value for key, value in os.environ.items() if key != TAG_VARIABLE}
    return subprocess.Popen(
        [sys.executable, "-m", "e3suite.guardian", str(pid or os.getpid())],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )


def wait_guardians(pids: list[int], timeout: float = 10.0) -> list[int]:
    """Wait for the guardians of ``pids`` (dead or ended processes) to finish their sweep; kill what is left.

    A guardian's last scans of the process table take a moment, longer on
    a loaded machine: a run that ends at once would leave it running
    behind. Returns the guardians killed at the ``timeout``.
    """
    wanted = {str(pid) for pid in pids}
    guardians = [g for g in _processes_of(__name__) if g[1] in wanted]
    deadline = time.monotonic() + timeout
    left = [pid for pid, _ in guardians]
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = [pid for pid in left if is_live(pid)]
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return left


def _processes_of(module: str) -> list[tuple[int, str]]:
    """(pid, argument) of the processes running ``python -m MODULE ARGUMENT``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                words = handle.read().split(b"\0")
        except OSError:
            continue
        if len(words) >= 4 and words[1:3] == [b"-m", module.encode()]:
            found.append((int(entry), words[3].decode(errors="replace")))
    return found


def guard(pid: int) -> int:
    """Wait until our stdin ends, then kill the trees tagged ``pid:``; how many processes were killed."""
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    return kill_tagged(f"{pid}:", _PASSES)


class RunGuardian:
    """The engine's guardian (see the module's docstring); ``current`` while a run has one."""

    def __init__(self, temp_dir: str | None = None) -> None:
        engine = os.getpid()
        read_end, self._write_end = os.pipe()  # close-on-exec: commands never hold it, forked workers do
        self.pid = os.fork()
        if self.pid == 0:  # the guardian: never returns into the engine's code
            code = 0
            try:
                os.setsid()  # signals to the run's process group or session do not reach it
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                # Below the engine and its commands for the CPU: what it does is for later.
                with contextlib.suppress(OSError):
                    os.nice(19)
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)  # the terminal and CI's log pipes are not held open by it
                _close_all_but(read_end)  # the engine's files, the pipes of workers...
                with contextlib.suppress(Exception):  # while the engine starts, on the other core
                    working_roots.remove_abandoned(temp_dir)
                _watch(read_end, engine)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(read_end)
        exempt_helper(self.pid)

    def watch(self, pid: int) -> None:
        """Commands tagged ``pid:`` (a worker's) are the run's too."""
        with contextlib.suppress(OSError):
            os.write(self._write_end, f"{pid}\n".encode())

    def run_over(self) -> None:
        """Every process of the run has ended: the guardian leaves without looking (as early as can be)."""
        if self._write_end < 0:
            return
        with contextlib.suppress(OSError):
            os.write(self._write_end, b"end\n")
        with contextlib.suppress(OSError):
            os.close(self._write_end)
        self._write_end = -1

    def release(self) -> None:
        """The run is over: ``run_over``, then the guardian is waited for (it is gone by then, mostly)."""
        self.run_over()
        deadline = time.monotonic() + _RELEASE_WAIT
        while True:  # bounded: it may still be removing a killed run's large working root
            try:
                if os.waitpid(self.pid, os.WNOHANG)[0] != 0 or time.monotonic() >= deadline:
                    return
            except (ChildProcessError, OSError):
                return
            time.sleep(0.001)


    def abandon(self) -> None:
        """The run ends without saying it cleaned up: the guardian sweeps once the engine and its workers are gone."""
        if self._write_end >= 0:
            with contextlib.suppress(OSError):
                os.close(self._write_end)
            self._write_end = -1


#: The guardian of the run going on in this process, if any (see ``guarding``).
current: RunGuardian | None = None
_MAX_FD = 65536
#: How long the end of a run waits for its guardian to leave (seconds).
_RELEASE_WAIT = 2.0


@contextlib.contextmanager
def guarding(temp_dir: str | None = None) -> Iterator[None]:
    """A RunGuardian for the run inside the block, released at its end (``temp_dir``: the run's --temp-dir)."""
    global current
    if current is not None:  # a run inside a run (a testsuite's own tests): the outer one guards both
        yield
        return
    current = guardian = RunGuardian(temp_dir)
    try:
        yield
    except BaseException:
        guardian.abandon()  # an interruption or an error: it looks once the last worker is gone
        raise
    else:
        guardian.release()
    finally:
        current = None


def watch(pid: int) -> None:
    """Tell the current run's guardian (if any) of a worker of pid ``pid``."""
    if current is not None:
        current.watch(pid)


def run_over() -> None:
    """Tell the current run's guardian (if any) that every process of the run has ended."""
    if current is not None:
        current.run_over()


def _close_all_but(keep: int) -> None:
    """Close every file descriptor above 2 but ``keep`` (those open: /proc/self/fd, not 65,536 calls)."""
    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        open_fds = list(range(3, _MAX_FD))
    for fd in open_fds:
        if fd > 2 and fd != keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def _watch(fd: int, engine: int) -> None:
    prefixes = {f"{engine}:"}
    pending = b""
    while True:
        try:
            data = os.read(fd, 4096)
        except InterruptedError:
            continue
        except OSError:
            data = b""
        if not data:
            break  # the engine and its workers are gone, without a word
        pending += data
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line == b"end":
                return
            if line.isdigit():
                prefixes.add(f"{int(line)}:")
    kill_tagged(tuple(sorted(prefixes)), _PASSES)


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: python -m e3suite.guardian PID")
    guard(int(sys.argv[1]))
