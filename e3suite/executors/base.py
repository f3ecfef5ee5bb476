"""The interface between the engine and its executors, and running one fragment.

The engine hands ready fragments to an executor (``submit``) as long as it
has a free slot, and collects completions (``wait``). Executors know nothing
of verdict rules, the DAG or the results store: they run a callback in a
slot and report how it ended, as a ``FragmentOutcome``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickle
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from e3suite.driver import FragmentCallback, FragmentContext
from e3suite.model import DependencyOutcome, FailureReason, FragmentState, ResultDelta, TestResult


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
    attempt: int = 1
    outcomes: dict[str, DependencyOutcome] = field(default_factory=dict)
    resources: dict[str, list[int]] = field(default_factory=dict)  # instances held, by resource
    #: (name, count) it needs where it runs, its own declaration else test.yaml's:
    #: how an executor with worker resources (Dask) places it
    declared_resources: tuple[tuple[str, int], ...] = ()
    #: the testcase ends with this fragment and its working directory goes
    #: anyway: the process may keep it as a spare if it is left empty (workdirs)
    recycle_working_dir: bool = False


class TaskFactory(Protocol):
    """The engine's ``make_task``: a fragment's task from its index and the parts of this attempt."""

    def __call__(
        self,
        index: int,
        *,
        previous: dict[str, Any],
        result: TestResult,
        attempt: int,
        outcomes: dict[str, DependencyOutcome],
        resources: dict[str, list[int]],
        recycle_working_dir: bool,
    ) -> FragmentTask: ...


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
    #: processes the callback left running (forked, never waited for), killed at its end
    leaks: list[str] = field(default_factory=list)


@dataclass
class FragmentStarted:
    """A fragment really began to run (not merely queued in a worker)."""

    index: int
    slot: int
    time: float  # time.time() of its start
    pid: int | None = None  # the process that runs it, where there is one


class WorkerExit(BaseException):
    """Raised in a worker whose engine is gone: unwind the callback, then leave.

    A BaseException, and re-raised by ``run_fragment``, so that no callback's
    ``except Exception`` and no fragment outcome can swallow it.
    """


class Executor(Protocol):
    """What every executor implements (local processes, in-process, Dask)."""

    #: number of slots
    jobs: int
    #: True when the executor's workers declare resources of their own (Dask
    #: worker resources): a ``resources:`` name the testsuite does not count
    #: is then theirs to check and hold, not a plan-time error of the engine.
    places_worker_resources: bool

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

    def take_started(self) -> list[FragmentStarted]:
        """Fragments that began to run since the last call (called after each ``wait``).

        An executor that cannot tell returns nothing: the engine then takes
        a fragment's start from its outcome.
        """

    def take_back_queued(self) -> list[FragmentOutcome]:
        """Fragments accepted but not started (queued in a busy worker), given back as READY outcomes."""

    def idle_slots(self) -> int:
        """Slots with nothing to run at all: a fragment submitted now starts at once (not queued)."""

    def set_wakeup_fd(self, fd: int | None) -> None:
        """A file descriptor that becomes readable when a signal arrives: ``wait`` returns then."""

    def hurry(self) -> None:
        """A second Ctrl-C: no more grace period for running processes."""


class ExecutorDefaults:
    """The optional abilities of the Executor protocol, as no-ops: executors inherit what they lack."""

    places_worker_resources = False

    def take_started(self) -> list[FragmentStarted]:
        return []

    def take_back_queued(self) -> list[FragmentOutcome]:
        return []

    def idle_slots(self) -> int:
        return self.free_slots()

    def free_slots(self) -> int:  # the protocol's; here so that idle_slots() type-checks
        raise NotImplementedError

    def set_wakeup_fd(self, fd: int | None) -> None:
        pass

    def hurry(self) -> None:
        # Callbacks run in the engine's own process: no grace to cut short,
        # and an exception in the main thread is the only way out of one.
        raise KeyboardInterrupt


def fail_unsendable_return_value(outcome: FragmentOutcome, fragment_id: str) -> None:
    """Make ``outcome`` FAILED when its return value cannot be pickled (what a worker cannot send back).

    For executors that run callbacks in the engine's process (``--in-process``):
    the verdict of a real run, where return values cross a pipe or the network.
    """
    if outcome.state is not FragmentState.COMPLETE or outcome.return_value is None:
        return
    try:
        pickle.dumps(outcome.return_value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        outcome.return_value = None
        outcome.state = FragmentState.FAILED
        why = f"{type(exc).__name__}: {exc}"
        outcome.error = f"the return value of {fragment_id} cannot be sent back from its worker: {why}"


def run_fragment(task: FragmentTask, slot: int, *, propagate_interrupt: bool = True) -> FragmentOutcome:
    """Run ``task``'s callback here and now; never raises.

    Shared by every executor, so that a fragment behaves the same wherever
    it runs: the working directory exists, the callback gets a context, an
    exception becomes a FAILED outcome with its traceback. Two exceptions
    go through: ``WorkerExit`` always, ``KeyboardInterrupt`` when
    ``propagate_interrupt`` (in the engine's own process, where it is the
    user's Ctrl-C; in a worker, a callback that raises it has just failed).

    A callback that forks and whose child returns from it: that child must
    never go on as a copy of the worker (or of the engine), so it leaves at
    once; the parent's executor finds it as a leftover process.
    """
    start = time.time()
    pid = os.getpid()
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
        attempt=task.attempt,
        outcomes=task.outcomes,
        resources=task.resources,
    )

    def ended(state: FragmentState, **how: Any) -> FragmentOutcome:
        return FragmentOutcome(
            task.index, state, slot, start, time.time(), delta=result.delta_since(mark), **how
        )

    try:
        value = task.callback(ctx)
    except BaseException as exc:
        if os.getpid() != pid:
            os._exit(0)
        if isinstance(exc, WorkerExit) or (propagate_interrupt and isinstance(exc, KeyboardInterrupt)):
            raise
        error = f"{task.fragment_id} raised {type(exc).__name__}: {exc}".rstrip(": ")
        return ended(FragmentState.FAILED, error=error, details=_callback_traceback(exc))
    if os.getpid() != pid:
        os._exit(0)
    problem = _unrecordable(result)
    if problem is not None:
        return ended(FragmentState.FAILED, error=f"{task.fragment_id}: {problem}")
    if ctx.timed_out is not None:  # a command it ran timed out (ctx.shell)
        return ended(FragmentState.TIMEDOUT, error=ctx.timed_out, failure_reason=FailureReason.TIMEOUT)
    return ended(FragmentState.COMPLETE, return_value=value)


def _unrecordable(result: TestResult) -> str | None:
    """What of the result a callback filled cannot be recorded (None: all can); that part is made recordable.

    The record is JSON: a non-JSON ``info`` value (or ``out`` in bytes) found
    when the record is written would stop the whole run, and a ``log`` that is
    no string, or a failure reason that is no FailureReason, breaks the delta
    sent back from a worker. The testcase gets ERROR saying which.
    """
    log: Any = result.log  # typed str, but a callback may have put anything there
    if not isinstance(log, str):
        result.log = str(log)
        return f"ctx.result.log must be a str (appended to with +=), not {type(log).__name__}"
    for name in ("out", "expected", "diff"):
        value = getattr(result, name)
        if value is not None and not isinstance(value, str):
            text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
            setattr(result, name, text)
            return f"ctx.result.{name} must be a str or None, not {type(value).__name__}"
    strays = [r for r in result.failure_reasons if not isinstance(r, FailureReason)]
    if strays:
        result.failure_reasons = {r for r in result.failure_reasons if isinstance(r, FailureReason)}
        return f"ctx.result.failure_reasons holds {strays[0]!r}, not a FailureReason"
    if not result.info:
        return None
    try:
        json.dumps(result.info)
        return None
    except (TypeError, ValueError):
        pass
    for key, value in list(result.info.items()):
        try:
            json.dumps({key: value})
        except (TypeError, ValueError) as exc:
            recorded = {k: v for k, v in result.info.items() if k != key}
            recorded[str(key)] = repr(value)
            result.info = recorded
            return f"ctx.result.info[{key!r}] is not JSON-ready ({exc}); its repr was recorded"
    return None


class ProcessState:
    """What a callback may change in the process that runs it, to put back after it.

    The working directory, the environment, the umask and ``sys.path``: a
    fragment must not see what the fragment before it did, whatever the
    executor (a worker runs many fragments; the in-process executor runs
    them in the engine).
    """

    def __init__(self) -> None:
        self.cwd = os.getcwd()
        self.environ = _environ_snapshot()
        self.umask = _current_umask()
        self.sys_path = list(sys.path)

    def restore(self) -> None:
        try:
            moved = os.getcwd() != self.cwd
        except OSError:  # the directory it moved to was deleted under it
            moved = True
        if moved:
            with contextlib.suppress(OSError):
                os.chdir(self.cwd)
        if _environ_snapshot() != self.environ:
            data = getattr(os.environ, "_data", None)
            for key in list(os.environ):
                del os.environ[key]
            if isinstance(data, dict):
                for key, value in self.environ.items():
                    os.environ[os.fsdecode(key)] = os.fsdecode(value)
            else:
                os.environ.update(self.environ)
        if _current_umask() != self.umask:
            os.umask(self.umask)
        if sys.path != self.sys_path:
            sys.path[:] = self.sys_path


def _environ_snapshot() -> dict[Any, Any]:
    # CPython keeps the encoded environment in a plain dict: comparing two of
    # those is C-level fast, where comparing os.environ decodes every entry.
    data = getattr(os.environ, "_data", None)
    return dict(data) if isinstance(data, dict) else dict(os.environ)


def _current_umask() -> int:
    # The only way to read the umask is to set it (and set it back).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _callback_traceback(exc: BaseException) -> str:
    """The traceback from the callback down: the runner's frame is noise."""
    tb = exc.__traceback__
    if tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))
