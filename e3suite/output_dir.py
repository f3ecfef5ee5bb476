"""The run's ``-o`` directory: checked usable, then rotated.

A bad ``-o`` is a usage error found before anything moves (docs/index.md,
"The results directory"): a file, a symbolic link to nothing, a directory
that cannot be written. Only then does ``store.rotate`` turn ``DIR/new``
into ``DIR/old``. This module never writes a result.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import e3suite.store as store


class OutputDirError(Exception):
    """``-o`` names no directory the run can write in."""


def rotate_output_dir(output_dir: Path) -> Path:
    """``store.rotate(output_dir)``, once ``output_dir`` is known to be a directory we can write in."""
    try:
        if output_dir.exists() and not output_dir.is_dir():
            raise OutputDirError(f"cannot write results in {output_dir} (-o): it is not a directory")
        if output_dir.is_symlink() and not output_dir.exists():  # mkdir would say "File exists"
            raise OutputDirError(
                f"cannot write results in {output_dir} (-o): it is a symbolic link to {os.readlink(output_dir)}, "
                "which does not exist"
            )
        output_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=output_dir):
            pass
        return store.rotate(output_dir)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename and Path(exc.filename) != output_dir else ""
        raise OutputDirError(f"cannot write results in {output_dir} (-o): {exc.strerror or exc}{where}") from None
