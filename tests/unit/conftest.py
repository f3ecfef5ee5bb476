"""Fixtures shared by the unit tests."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psutil
import pytest


@pytest.fixture
def no_survivors() -> Iterator[None]:
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    yield
    deadline = time.monotonic() + 10
    while True:
        # multiprocessing's resource tracker lives as long as this process, by design.
        left = [
            p for p in me.children(recursive=True)
            if p.pid not in before
            and p.status() != psutil.STATUS_ZOMBIE
            and "resource_tracker" not in " ".join(p.cmdline())
        ]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not left, [p.cmdline() for p in left]
