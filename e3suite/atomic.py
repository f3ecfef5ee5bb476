"""Replace a file whole: a reader finds the old content or the new one, never half of one.

The text goes to a temporary file beside the target (``.NAME.PID.tmp``,
made exclusively, so two processes never share one), then a rename puts it
in place. A failure (disk full, directory removed) removes the temporary
file and raises the OSError: the target is left as it was. Used for every
file e3suite rewrites: the results index, the status file, report files,
baselines (``--rewrite``).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def temporary_name(path: Path) -> Path:
    """The temporary file ``write_atomic`` uses for ``path`` in this process."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_atomic(path: Path, text: str, *, newline: str | None = None) -> None:
    """Write ``text`` (UTF-8) to ``path`` by a rename; ``newline=""`` writes it untranslated."""
    tmp = temporary_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        with open(fd, "w", encoding="utf-8", newline=newline) as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
