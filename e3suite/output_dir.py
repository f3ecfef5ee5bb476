"""The run's ``-o`` directory: checked usable, then rotated.

A bad ``-o`` is a usage error found before anything moves (docs/index.md,
"The results directory"): a file, a symbolic link to nothing, a directory
that cannot be written. Only then does ``rotate`` turn ``DIR/new`` into
``DIR/old`` and recycle the run before last as the new ``DIR/new``, under
the directory's lock. This module never writes a result.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import tempfile
from pathlib import Path

import e3suite.store as store
from e3suite.results_lock import lock_results_dir


class OutputDirError(Exception):
    """``-o`` names no directory the run can write in."""


def rotate_output_dir(output_dir: Path) -> Path:
    """``rotate(output_dir)``, once ``output_dir`` is known to be a directory we can write in."""
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
        for name in ("new", "old"):  # the rotation moves the one and empties the other
            if _foreign(output_dir / name):
                raise OutputDirError(
                    f"cannot write results in {output_dir} (-o): {output_dir / name} is not a results directory "
                    f"(no {store.JOURNAL}, {store.INDEX} nor {store.RECORDS}/), which the rotation of results "
                    "would move or empty: move it away, or give this run another -o directory"
                )
        return rotate(output_dir)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename and Path(exc.filename) != output_dir else ""
        raise OutputDirError(f"cannot write results in {output_dir} (-o): {exc.strerror or exc}{where}") from None


#: Where the rotation puts the run before last while it makes it the new run's directory.
_RECYCLING = ".recycling"


def rotate(output_dir: Path) -> Path:
    """Move ``DIR/new`` to ``DIR/old``; the run before last becomes the new ``DIR/new``.

    It first takes DIR's lock (``results_lock.ResultsDirBusy`` when another run holds
    it), which ``ResultsWriter.close`` of ``DIR/new`` gives back.

    The run before last is emptied and renamed to be the new ``DIR/new``
    (the record files of a directory written before records went in the
    journal go with the rest).
    """
    new, old, spare = output_dir / "new", output_dir / "old", output_dir / _RECYCLING
    output_dir.mkdir(parents=True, exist_ok=True)
    lock_results_dir(output_dir)
    if os.path.lexists(spare):
        try:
            store.remove_path(spare)  # a rotation that was interrupted half-way, or a run before last that resisted
        except OSError as exc:  # named whole: rmtree names a file inside it by a relative path
            raise OSError(exc.errno, exc.strerror, str(spare)) from exc
    if new.exists():
        if last_run(output_dir) == old:
            # A start cut short (killed between this rotation and its first
            # testcase) left a DIR/new without results: rotated, it would
            # push the last real run out of DIR/old. It is recycled instead.
            new.rename(spare)
        else:
            if os.path.lexists(old):
                old.rename(spare)
            new.rename(old)
    if spare.is_dir() and not spare.is_symlink():
        try:
            for entry in os.scandir(spare):
                store.remove_path(Path(entry.path))
            spare.rename(new)
        except OSError:
            # Recycling saves a mkdir, it is no need: a run before last that cannot
            # be emptied (its files' permissions) must not stop this run once
            # DIR/new has moved. This run starts afresh; the next start
            # removes the leftover, or stops there, before anything moves.
            pass
    elif os.path.lexists(spare):
        store.remove_path(spare)  # an "old" that was a file or a link
    new.mkdir(parents=True, exist_ok=True)
    return new


#: What a directory the rotation may move or empty holds: e3suite's files, or e3-testsuite's index
#: (its results, which e3-testsuite rotates the same way).
_RESULTS_NAMES = (store.JOURNAL, store.INDEX, store.RECORDS, store.STATUS, "_index.json")


def _foreign(path: Path) -> bool:
    """Whether ``path`` is a directory with something in it, but no results: a user's own ``new`` or ``old``.

    ``-o .`` in a project with an ``old/`` directory, or ``-o tests`` with a
    testcase named ``old``: the rotation would have emptied it.
    """
    if not path.is_dir() or path.is_symlink():
        return False
    with os.scandir(path) as entries:
        names = {entry.name for entry in entries}
    return bool(names) and not names.intersection(_RESULTS_NAMES)


def last_run(output_dir: Path) -> Path:
    """The last run of ``output_dir`` with results: ``DIR/new``, or ``DIR/old`` when ``DIR/new`` holds none.

    What the next rotation keeps as ``DIR/old``, and what ``--failed`` reruns the failures of.
    """
    new, old = output_dir / "new", output_dir / "old"
    return old if not _holds_a_run(new) and _holds_a_run(old) else new


def _holds_a_run(path: Path) -> bool:
    """Whether ``path`` holds results of a run: its journal tells of a testcase (without a journal: an index).

    A run killed during its set-up or planning (a build, say) journaled
    nothing but its start, and one whose set-up stopped it (a tool missing:
    exit 2) its start and its end: there is nothing in them to compare with.
    A run with testcases tells of one by its second line (``test_discovered``).
    """
    try:
        with open(path / store.JOURNAL, "rb") as journal:
            for line in itertools.islice(journal, 3):
                with contextlib.suppress(ValueError, AttributeError):
                    if json.loads(line).get("event") not in ("run_started", "run_ended"):
                        return True
        return False
    except OSError:
        return (path / store.INDEX).is_file()
