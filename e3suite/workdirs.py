"""Testcases' working directories: made on first use, recycled when left empty.

A ``mkdir`` and, at the end of the run, the ``rmdir`` of the same
directory allocate and free an inode: on ext4 here that is 0.17 ms of CPU
per testcase (more right after mass deletions), as much as running a small
command. Most testcases of a stock ``shell`` suite leave their working
directory empty. So a process that ran a testcase's last fragment keeps its
empty working directory as a spare (renamed aside), and the next testcase
that needs one gets the spare renamed to its own name: no inode is
allocated or freed. When a process already keeps enough spares, such an
empty directory is removed by the process that ran the testcase's last
fragment, so the end of the run has only the spares and what testcases
left to remove.

A spare is taken only from a testcase that is over (its last fragment, no
retry left, nothing depends on it) whose directory would be removed anyway
(``--cleanup-mode all``, the default), that left no process behind, and
whose directory is empty, owned by us, with the mode a fresh one would
have. So a testcase cannot tell a recycled directory from a new one.
"""

from __future__ import annotations

import itertools
import os
import stat
from pathlib import Path

#: Spares kept by one process: one is enough for a worker running testcases
#: one after the other; a few cover in-process threads.
MAX_SPARES = 4

_spares: list[str] = []
_names = itertools.count()
_fresh_mode: int | None = None  # 0o777 less the process's umask, read once


def make(path: Path | str) -> None:
    """Make ``path`` (and its parents) unless it exists: from a spare when there is one."""
    target = os.fspath(path)
    if os.path.isdir(target):
        return
    while _spares:
        spare = _spares.pop()
        try:
            os.rename(spare, target)
            return
        except OSError:
            # Its parent does not exist yet (a nested id), or the spare
            # went (removed by someone else): a plain mkdir then.
            if os.path.isdir(spare):
                _spares.append(spare)
            break
    os.makedirs(target, exist_ok=True)


def recycle(path: Path | str) -> bool:
    """Keep ``path`` as a spare if it is an empty directory as ``make`` would make it.

    With spares enough, such a directory is removed at once instead: it
    would be at the end of the run, serially, by the engine (a suite whose
    testcases all run their first fragments before any ends, such as
    chained fragments scheduled by critical path, left hundreds of them).
    True when it was kept or removed.
    """
    source = os.fspath(path)
    try:
        st = os.lstat(source)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or stat.S_IMODE(st.st_mode) != _mode():
            return False
        if len(_spares) >= MAX_SPARES:
            os.rmdir(source)  # fails if anything is in it: then it is left to the end of the run
            return True
        with os.scandir(source) as entries:
            if next(entries, None) is not None:
                return False
        spare = os.path.join(os.path.dirname(source), f".e3suite-spare-{os.getpid()}-{next(_names)}")
        os.rename(source, spare)
    except OSError:
        return False
    _spares.append(spare)
    return True


def forget_spares() -> None:
    """A new process (a forked worker) must not take its parent's spares."""
    _spares.clear()


def _mode() -> int:
    global _fresh_mode
    if _fresh_mode is None:
        mask = os.umask(0o022)
        os.umask(mask)
        _fresh_mode = 0o777 & ~mask
    return _fresh_mode
