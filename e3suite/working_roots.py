"""A run's working root (``TMPDIR/e3suite-XXXX``): who owns it, and removing those a killed run left.

A run removes its working root at its end (``--cleanup-mode all``, the
default). A run that cannot (SIGKILL, an OOM kill, a CI job cancelled with
``kill -9``, a machine that lost power) leaves it, with whatever its
testcases built, and a CI machine running such jobs fills its disk. So each
run writes into its root who owns it (``OWNER``: pid, the process's start
time, pid namespace, boot), and the next run in the same temporary
directory removes the roots whose owner is gone and ran with ``all``.

A root is kept when its owner may still run: same boot and pid namespace,
and a process with that pid and start time; a root of another pid
namespace (a container sharing /tmp) on the same boot, whose processes we
cannot see; one that is not ours (its owner file unreadable: another user's
roots are 0700), that has no owner file (a run being set up, or one of an
older e3suite), or whose run kept its directories on purpose
(``--cleanup-mode passed`` or ``none``: no owner file). This module never touches a
directory not named ``e3suite-*``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from e3suite.process_tree import process_start

PREFIX = "e3suite-"
#: In the root, beside the testcases' directories (no test id is named so in practice).
OWNER = ".e3suite-run.json"


def claim(root: Path, cleanup_mode: str) -> None:
    """Say in ``root`` that this process owns it and would remove it at its end (``--cleanup-mode all``).

    A root that is to be kept (``passed``, ``none``) gets no owner file: it
    holds the testcases' directories and nothing else, and no later run
    removes it. A failure to write says nothing (the root is kept then).
    """
    if cleanup_mode != "all":
        return
    owner = {**_identity(os.getpid()), "cleanup": cleanup_mode}
    with contextlib.suppress(OSError):
        (root / OWNER).write_text(json.dumps(owner))


def remove_abandoned(temp_dir: str | None) -> list[str]:
    """Remove the roots under ``temp_dir`` (default: the system's) that killed runs left; their paths."""
    base = temp_dir or tempfile.gettempdir()
    try:
        entries = [e for e in os.scandir(base) if e.name.startswith(PREFIX)]
    except OSError:
        return []
    removed = []
    me = os.getuid()
    ours = _identity(None)
    for entry in entries:
        # The owner file first: most roots have none (kept, or of an older e3suite), one failed open each.
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
            with open(os.path.join(entry.path, OWNER), encoding="utf-8") as handle:
                owner = json.load(handle)
            if entry.stat(follow_symlinks=False).st_uid != me:
                continue
        except (OSError, ValueError):
            continue
        if isinstance(owner, dict) and owner.get("cleanup") == "all" and _gone(owner, ours):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return removed


def _gone(owner: dict[str, Any], ours: dict[str, Any]) -> bool:
    if not ours["boot"] or not owner.get("boot"):
        return False  # no /proc to tell
    if owner["boot"] != ours["boot"]:
        return True  # the machine started again since: nothing of that run runs
    if owner.get("pidns") != ours["pidns"]:
        return False  # its processes are out of our sight
    pid = owner.get("pid")
    return not isinstance(pid, int) or process_start(pid) != owner.get("started")


def _identity(pid: int | None) -> dict[str, Any]:
    identity: dict[str, Any] = {"boot": _read("/proc/sys/kernel/random/boot_id")}
    try:
        identity["pidns"] = os.readlink("/proc/self/ns/pid")
    except OSError:
        identity["pidns"] = None
    if pid is not None:
        identity["pid"] = pid
        identity["started"] = process_start(pid)
    return identity


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return ""
