"""Small helpers of e3-testsuite's ``utils`` module that testsuites import.

``CleanupMode`` (what ``--cleanup-mode`` selects), ``DummyColors`` and
``ColorConfig``. Plain definitions: this module must never touch the run.
"""

from __future__ import annotations

import enum
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
