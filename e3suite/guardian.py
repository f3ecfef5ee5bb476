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

import os
import subprocess
import sys

from e3suite.process_tree import TAG_VARIABLE, kill_tagged

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
