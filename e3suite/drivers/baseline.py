"""Baseline files: read them, and rewrite them from a refined actual output.

Used by ``DiffDriver`` during a run (``--rewrite``) and by the
``e3suite rewrite`` subcommand after the fact, so both apply the same rule:

- a non-empty output is written to the baseline (``created`` when the file
  did not exist, ``updated`` otherwise);
- an empty output deletes an optional baseline (``deleted``; a missing
  optional baseline already means "no output expected"), and writes an
  empty file for a required one.

This module only touches the one baseline file it is given; it decides no
verdict.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class RewriteAction(enum.Enum):
    UPDATED = "updated"
    CREATED = "created"
    DELETED = "deleted"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class BaselineInfo:
    """Where a testcase's baseline lives; stored in ``TestResult.info["baseline"]``."""

    path: str  # absolute
    optional: bool
    regexp: bool

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "optional": self.optional, "regexp": self.regexp}

    @classmethod
    def from_json(cls, data: Any) -> BaselineInfo | None:
        if not isinstance(data, dict) or not isinstance(data.get("path"), str):
            return None
        return cls(data["path"], bool(data.get("optional")), bool(data.get("regexp")))


class BaselineError(Exception):
    """A baseline that exists but cannot be read or written."""


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


def rewrite(info: BaselineInfo, output: str) -> RewriteAction:
    """Make the baseline match ``output`` (refined); return what was done."""
    action = planned_action(info, output)
    path = Path(info.path)
    try:
        if action is RewriteAction.DELETED:
            path.unlink()
        elif action in (RewriteAction.CREATED, RewriteAction.UPDATED):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".e3suite-tmp")
            # newline="" keeps the text as refined: no platform translation.
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                f.write(output)
            os.replace(tmp, path)
    except OSError as exc:
        raise BaselineError(f"cannot rewrite baseline {path}: {exc.strerror}") from None
    return action
