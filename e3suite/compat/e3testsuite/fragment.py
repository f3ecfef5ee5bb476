"""e3-testsuite's fragment data: what ``TestDriver.add_fragment`` puts in the DAG.

``FragmentData`` is the data of one vertex of the e3-style DAG a driver
fills in ``add_test``; the bridge turns each one into an e3suite fragment.
This module holds data only: it must never run a callback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class FragmentCallback(Protocol):
    def __call__(self, previous_values: dict[str, Any], slot: int) -> Any: ...


@dataclass
class FragmentData:
    """One fragment: its uid (``test_name.name``), driver, name and callback."""

    uid: str
    driver: Any
    name: str
    callback: FragmentCallback
    callback_by_name: bool = False

    def matches(self, driver_cls: type, name: str | None) -> bool:
        """Whether this fragment belongs to a ``driver_cls`` driver (and is named ``name``)."""
        return isinstance(self.driver, driver_cls) and (name is None or self.name == name)

    def clear_driver_data(self) -> None:
        joker: Any = None
        self.driver = joker
        self.callback = joker
