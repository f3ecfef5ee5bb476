"""e3-testsuite's RunningStatus, for programs that drive MultiprocessScheduler.

It counts the results it is given (``process_result``), notes the fragments
that start and complete, and sets ``aborted_too_many_failures`` after
``max_consecutive_failures`` FAIL/ERROR in a row, which stops the
scheduler. e3-testsuite also writes a status file every
``update_interval`` seconds; here ``dump()`` writes it when asked, and
never on the hot path. This module never schedules anything.
"""

from __future__ import annotations

import threading
from typing import Any


class RunningStatus:
    def __init__(self, filename: str, update_interval: float = 1.0, max_consecutive_failures: int = 0) -> None:
        self.filename = filename
        self.update_interval = update_interval
        self.max_consecutive_failures = max_consecutive_failures
        self.lock = threading.Lock()
        self.dag: Any = None
        self.running: dict[str, Any] = {}
        self.completed: set[str] = set()
        self.status_counters: dict[Any, int] = {}
        self.consecutive_failures = 0
        self.aborted_too_many_failures = False

    def set_dag(self, dag: Any) -> None:
        self.dag = dag

    def start(self, fragment: Any) -> None:
        with self.lock:
            self.running[fragment.uid] = fragment

    def complete(self, fragment: Any) -> None:
        with self.lock:
            self.running.pop(fragment.uid, None)
            self.completed.add(fragment.uid)

    def process_result(self, result: Any) -> None:
        """Count ``result`` (anything with a ``status`` whose name is a TestStatus name)."""
        with self.lock:
            self.status_counters[result.status] = self.status_counters.get(result.status, 0) + 1
            if result.status.name in ("ERROR", "FAIL"):
                self.consecutive_failures += 1
                if 0 < self.max_consecutive_failures <= self.consecutive_failures:
                    self.aborted_too_many_failures = True
            else:
                self.consecutive_failures = 0

    def dump(self) -> None:
        """Write the status file: what runs, how many completed, the counters."""
        with self.lock:
            lines = [f"Running: {len(self.running)}", f"Completed: {len(self.completed)}"]
            lines += [f"{getattr(s, 'name', s)}: {n}" for s, n in self.status_counters.items()]
        with open(self.filename, "w") as f:
            f.write("\n".join(lines) + "\n")
