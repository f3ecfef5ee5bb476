"""The interface between the engine and its executors, and running one fragment.

The engine hands ready fragments to an executor (``submit``) as long as it
has a free slot, and collects completions (``wait``). Executors know nothing
of verdict rules, the DAG or the results store: they run a callback in a
slot and report how it ended, as a ``FragmentOutcome``.
"""

from __future__ import annotations

import argparse
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from e3suite.driver import FragmentCallback, FragmentContext
from e3suite.model import FailureReason, FragmentState, ResultDelta, TestResult


@dataclass
class FragmentTask:
    """Everything needed to run one fragment, anywhere (it is picklable)."""

    index: int  # the engine's number for this fragment
    fragment_id: str
    test_id: str
    name: str
    callback: FragmentCallback
    test_env: dict[str, Any]
    test_dir: Path
    working_dir: Path
    options: argparse.Namespace
    previous: dict[str, Any]
    result: TestResult  # a working copy of the testcase's result
    matrix: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None


@dataclass
class FragmentOutcome:
    """How a fragment ended, as an executor reports it."""

    index: int
    state: FragmentState  # COMPLETE, FAILED, TIMEDOUT or ABORTED; READY: given back unstarted, to schedule again
    slot: int
    start: float
    end: float
    return_value: Any = None
    delta: ResultDelta = field(default_factory=ResultDelta)
    # For FAILED/TIMEDOUT/ABORTED: a one-line reason, and details (a traceback).
    error: str | None = None
    details: str = ""
    failure_reason: FailureReason | None = None


class Executor(Protocol):
    """What every executor implements (local processes, in-process, Dask)."""

    #: number of slots
    jobs: int

    def start(self) -> None:
        """Acquire resources (workers, cluster connection)."""

    def free_slots(self) -> int:
        """How many more fragments ``submit`` accepts right now."""

    def submit(self, task: FragmentTask) -> None:
        """Start ``task`` in a free slot (never called without one)."""

    def wait(self, timeout: float | None) -> list[FragmentOutcome]:
        """Completions since the last call; blocks up to ``timeout`` for one."""

    def interrupt(self) -> list[FragmentOutcome]:
        """Stop every running fragment; return them as ABORTED outcomes."""

    def shutdown(self) -> None:
        """Release everything ``start`` acquired. Idempotent."""


def run_fragment(task: FragmentTask, slot: int) -> FragmentOutcome:
    """Run ``task``'s callback here and now; never raises.

    Shared by every executor, so that a fragment behaves the same wherever
    it runs: the working directory exists, the callback gets a context, an
    exception becomes a FAILED outcome with its traceback.
    """
    start = time.time()
    result = task.result
    mark = result.mark()
    ctx = FragmentContext(
        slot=slot,
        previous=task.previous,
        test_env=task.test_env,
        test_dir=task.test_dir,
        working_dir=task.working_dir,
        options=task.options,
        result=result,
        test_id=task.test_id,
        fragment_id=task.fragment_id,
        matrix=task.matrix,
        timeout=task.timeout,
    )
    def ended(state: FragmentState, **how: Any) -> FragmentOutcome:
        return FragmentOutcome(
            task.index, state, slot, start, time.time(), delta=result.delta_since(mark), **how
        )

    try:
        value = task.callback(ctx)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        error = f"{task.fragment_id} raised {type(exc).__name__}: {exc}".rstrip(": ")
        return ended(FragmentState.FAILED, error=error, details=_callback_traceback(exc))
    if ctx.timed_out is not None:  # a command it ran timed out (ctx.shell)
        return ended(FragmentState.TIMEDOUT, error=ctx.timed_out, failure_reason=FailureReason.TIMEOUT)
    return ended(FragmentState.COMPLETE, return_value=value)


def _callback_traceback(exc: BaseException) -> str:
    """The traceback from the callback down: the runner's frame is noise."""
    tb = exc.__traceback__
    if tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))
