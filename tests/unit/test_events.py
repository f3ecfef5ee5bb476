"""Events are values: immutable, equal and hashed field by field, shown and pickled whole.

They are written by hand rather than as frozen dataclasses (import time,
docs/performance.md); these tests pin that they still behave as such.
"""

from __future__ import annotations

import pickle

import pytest

from e3suite.events import FragmentEnded, FragmentStarted, RunEnded, TestDiscovered
from e3suite.model import FragmentState


def started(**changes: object) -> FragmentStarted:
    fields: dict = dict(index=3, fragment_id="a/b:run", test_id="a/b", attempt=1, slot=0, time=12.5, pid=42)
    fields.update(changes)
    return FragmentStarted(**fields)


def test_equal_and_hashed_by_fields() -> None:
    assert started() == started()
    assert hash(started()) == hash(started())
    assert started() != started(slot=1)
    assert len({started(), started(), started(pid=None)}) == 2


def test_events_of_different_kinds_are_never_equal() -> None:
    assert TestDiscovered("x") != RunEnded(1.0, 2.0, False)
    assert TestDiscovered("x") != "x"


def test_immutable() -> None:
    event = started()
    with pytest.raises(AttributeError, match="cannot assign"):
        event.slot = 2  # type: ignore[misc]
    with pytest.raises(AttributeError, match="cannot delete"):
        del event.pid  # type: ignore[misc]
    with pytest.raises(AttributeError):
        event.extra = 1  # type: ignore[attr-defined]


def test_defaults_and_repr() -> None:
    ended = FragmentEnded(1, "a:run", "a", 1, FragmentState.COMPLETE, 0, 1.0, 2.0)
    assert ended.error is None
    assert RunEnded(1.0, 2.0, True).stop_reason is None
    assert repr(TestDiscovered("a/b")) == "TestDiscovered(test_id='a/b')"
    assert repr(started()).startswith("FragmentStarted(index=3, fragment_id='a/b:run', test_id='a/b', attempt=1,")


def test_pickled_whole() -> None:
    for event in (started(), RunEnded(1.0, 2.0, True, "failure limit"), TestDiscovered("t")):
        copy = pickle.loads(pickle.dumps(event))
        assert copy == event and type(copy) is type(event)
