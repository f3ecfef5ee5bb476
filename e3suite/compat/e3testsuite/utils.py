"""Small helpers of e3-testsuite's ``utils`` module that testsuites import.

``CleanupMode`` (what ``--cleanup-mode`` selects), ``DummyColors``,
``ColorConfig`` and ``safe_dir_walk`` (how testcases are searched). Plain
definitions: this module must never touch the run.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterator
from typing import Any


class CleanupMode(enum.Enum):
    """Which working directories are removed at the end of a testcase."""

    NONE = enum.auto()
    PASSING = enum.auto()
    ALL = enum.auto()

    @classmethod
    def default(cls) -> CleanupMode:
        return cls.PASSING


class DummyColors:
    """Stands for colorama's Fore/Style when colours are off: every colour is ''."""

    def __getattr__(self, name: str) -> str:
        return ""


class ColorConfig:
    """Fore and Style: colorama's when colours are enabled, DummyColors otherwise."""

    def __init__(self, colors_enabled: bool = False) -> None:
        self.Fore: Any
        self.Style: Any
        if colors_enabled:
            from colorama import Fore, Style

            self.Fore, self.Style = Fore, Style
        else:
            self.Fore = self.Style = DummyColors()


def indent(text: str, prefix: str = "  ") -> str:
    """``text`` with ``prefix`` before each line."""
    return "\n".join(prefix + line for line in text.splitlines())


def safe_dir_walk(top: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk(top)``, also down symbolic links to directories, each real directory they lead to once.

    As e3-testsuite's: a link is followed unless the directory it leads to
    was entered by a link (or is ``top``) already, so a link back to a
    parent (``tests/a/up -> ..``) ends the descent instead of finding every
    testcase again at each level until the kernel's symlink limit. What a
    caller removes from ``dirnames`` is not walked, links included.
    """
    visited: set[str] = set()

    def recurse(root: str) -> Iterator[tuple[str, list[str], list[str]]]:
        real = os.path.realpath(root)
        if real in visited:
            return
        visited.add(real)
        for dirpath, dirnames, filenames in os.walk(root):
            yield dirpath, dirnames, filenames
            for name in list(dirnames):
                path = os.path.join(dirpath, name)
                if os.path.islink(path):
                    yield from recurse(path)

    yield from recurse(top)
