"""Which real services the distributed testcases can use on this machine.

``tests/distributed/*`` run sample testsuites on a Dask LocalCluster, over
SSH to 127.0.0.1 and on a single-node Slurm. CI starts sshd and Slurm with
``.ci/start-services`` (see .ci/services/); on a machine without them the
testcases that need one are skipped, with the reason, through their
``control:`` conditions on ``services.*``.

It only looks (a TCP connect, ``sinfo``); it never starts or stops anything.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
from pathlib import Path
from types import SimpleNamespace

#: Where .ci/start-services puts its state (the SSH client key among it).
SERVICES_DIR = Path(os.environ.get("E3SUITE_SERVICES", "/tmp/e3suite-services"))
SSH_PORT = 2222


def available_services() -> SimpleNamespace:
    """``dask``, ``sshd`` and ``slurm``: True when usable here."""
    dask = all(importlib.util.find_spec(m) is not None for m in ("distributed", "dask_jobqueue", "asyncssh"))
    return SimpleNamespace(dask=dask, sshd=dask and _sshd(), slurm=dask and _slurm())


def _sshd() -> bool:
    if not (SERVICES_DIR / "ssh" / "id_ed25519").is_file():
        return False
    try:
        with socket.create_connection(("127.0.0.1", SSH_PORT), timeout=2):
            return True
    except OSError:
        return False


def _slurm() -> bool:
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return False
    try:
        states = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return any(state.strip().rstrip("*") in ("idle", "mixed", "allocated") for state in states.splitlines())
