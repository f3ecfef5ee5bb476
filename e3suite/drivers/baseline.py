"""Baseline files: read them, and rewrite them from a refined actual output.

Used by ``DiffDriver`` during a run (``--rewrite``) and by the
``e3suite rewrite`` subcommand after the fact, so both apply the same rule:

- a non-empty output is written to the baseline (``created`` when the file
  did not exist, ``updated`` otherwise);
- an empty output deletes an optional baseline (``deleted``; a missing
  optional baseline already means "no output expected"), and writes an
  empty file for a required one.

A baseline lives inside its test directory: ``check_inside`` refuses a path
that leaves it (absolute, ``..``, a symbolic link out), and ``rewrite``
refuses to write one, so that ``--rewrite`` can never replace a file
elsewhere. This module only touches the one baseline file it is given; it
decides no verdict.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e3suite.atomic import write_atomic


class RewriteAction(enum.Enum):
    UPDATED = "updated"
    CREATED = "created"
    DELETED = "deleted"
    UNCHANGED = "unchanged"


#: ``result.info["rewrite"]`` of a matrix variant whose baseline the end of the run writes
PENDING = "pending"
#: ``result.info`` key of a DIFF failure whose output must never become the baseline (why)
NOT_REWRITABLE = "not_rewritable"


@dataclass(frozen=True)
class BaselineInfo:
    """Where a testcase's baseline lives; stored in ``TestResult.info["baseline"]``."""

    path: str  # absolute
    optional: bool
    regexp: bool
    #: the testcase's directory, which the baseline must not leave ("": unknown)
    test_dir: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "optional": self.optional, "regexp": self.regexp, "test_dir": self.test_dir}

    @classmethod
    def from_json(cls, data: Any) -> BaselineInfo | None:
        if not isinstance(data, dict) or not isinstance(data.get("path"), str):
            return None
        test_dir = data.get("test_dir")
        return cls(
            data["path"], bool(data.get("optional")), bool(data.get("regexp")),
            test_dir if isinstance(test_dir, str) else "",
        )


class BaselineError(Exception):
    """A baseline that exists but cannot be read or written, or lies outside its test directory."""


def check_inside(path: Path, test_dir: Path, shown: str | None = None) -> None:
    """Raise BaselineError unless ``path`` is inside ``test_dir``.

    Resolved, symbolic links included: a link to a file elsewhere would let
    ``--rewrite`` read and compare something the testcase does not own.
    """
    root = test_dir.resolve()
    try:
        inside = path.resolve().is_relative_to(root) and path.resolve() != root
    except (OSError, RuntimeError):  # a symlink loop
        inside = False
    if not inside:
        raise BaselineError(f"baseline {shown or str(path)!r} is outside the test directory")


def read_baseline(path: Path) -> str | None:
    """The baseline's text (undecodable bytes replaced), or None when missing."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc.strerror}") from None
    return data.decode("utf-8", errors="replace")


def planned_action(info: BaselineInfo, output: str) -> RewriteAction:
    """What ``rewrite`` would do, without doing it."""
    path = Path(info.path)
    exists = path.exists()
    if not output and info.optional:
        return RewriteAction.DELETED if exists else RewriteAction.UNCHANGED
    if not exists:
        return RewriteAction.CREATED
    try:
        current = path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return RewriteAction.UPDATED
    return RewriteAction.UNCHANGED if current == output else RewriteAction.UPDATED


def check_rewritable(info: BaselineInfo) -> None:
    """Raise BaselineError unless ``info`` names a baseline inside a known test directory."""
    if not info.test_dir:
        raise BaselineError(f"cannot rewrite baseline {info.path}: its test directory is not recorded")
    check_inside(Path(info.path), Path(info.test_dir))


def rewrite(info: BaselineInfo, output: str) -> RewriteAction:
    """Make the baseline match ``output`` (refined); return what was done."""
    check_rewritable(info)
    path = Path(info.path)
    action = planned_action(info, output)
    try:
        if action is RewriteAction.DELETED:
            path.unlink()
        elif action in (RewriteAction.CREATED, RewriteAction.UPDATED):
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, output, newline="")  # newline="": the text as refined, no translation
    except OSError as exc:
        raise BaselineError(f"cannot rewrite baseline {path}: {exc.strerror}") from None
    return action
