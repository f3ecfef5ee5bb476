"""Fragment callbacks for the Dask executor's tests, importable by Dask workers.

Workers get this directory on their ``sys.path`` (the executor's root_dir):
the callbacks are pickled by reference, as a testsuite's drivers are.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from e3suite.driver import FragmentContext


def give(ctx: FragmentContext) -> Any:
    """Returns what the testcase's environment says, with the worker's pid and the slot."""
    return {"value": ctx.test_env.get("value"), "previous": dict(ctx.previous), "pid": os.getpid(), "slot": ctx.slot}


def shell(ctx: FragmentContext) -> Any:
    result = ctx.shell(ctx.test_env["cmd"])
    ctx.result.log += result.output
    return result.status


def die(ctx: FragmentContext) -> None:
    """Kill the worker running it: a lost worker, every time."""
    os.kill(os.getpid(), signal.SIGKILL)


class FactsSuite:
    """Stands for a Testsuite subclass: what worker_facts adds."""

    def __init__(self, root_dir: Any = None) -> None:
        self.root_dir = root_dir

    def worker_facts(self) -> dict[str, Any]:
        return {"gnat": "14.1", "gpu": 0}


class PickyDriver:
    """A driver whose can_run_on refuses every worker."""

    def can_run_on(self, facts: dict[str, Any]) -> bool | str:
        return "wants a host named nowhere"

    def run(self, ctx: FragmentContext) -> None:
        return None


class SlowFactsSuite(FactsSuite):
    """Facts that take a while once the file named by ``E3SUITE_TEST_SLOW_FACTS`` exists (a worker restarted later)."""

    def worker_facts(self) -> dict[str, Any]:
        import time
        from pathlib import Path

        marker = os.environ.get("E3SUITE_TEST_SLOW_FACTS")
        if marker and Path(marker).exists():
            time.sleep(15)
        return super().worker_facts()
