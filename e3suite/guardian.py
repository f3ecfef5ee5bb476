"""``python -m e3suite.guardian PID``: kill what process PID leaves running when it dies.

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

from e3suite.process_tree import TAG_VARIABLE, is_live, kill_tagged

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


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: python -m e3suite.guardian PID")
    guard(int(sys.argv[1]))
