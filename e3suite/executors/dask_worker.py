"""The code that runs on a Dask worker for e3suite.

- ``E3suiteWorkerPlugin``, registered by the engine on every worker (also
  those that join or are restarted later): puts the testsuite's directory on
  ``sys.path`` (workers import the driver modules), ignores SIGINT (Ctrl-C
  in a terminal reaches local workers too; the engine decides what an
  interruption does), and probes the worker's facts.
- ``run_payload``, the Dask task of one fragment: unpickles the
  ``FragmentTask`` (cloudpickle: classes of the user's ``testsuite.py``
  travel by value), runs it with ``run_fragment`` exactly as the local
  executor does (commands in their own session, timeouts, tree kills, leak
  detection, capped output; see e3suite/process.py) and sends back the
  pickled ``FragmentOutcome``.
- ``kill_commands``, a control function the engine runs on every worker
  when it is interrupted: it stops new fragments of the run from starting
  and kills the process trees of the commands this worker started.
- ``sweep_orphans``: kills commands whose worker died (tagged with its pid).

It must never decide verdicts, write results, or raise into Dask for the
fragment's sake: every problem becomes a FAILED outcome.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import cloudpickle
from distributed import WorkerPlugin, get_worker

import e3suite.process as process
from e3suite.executors.base import FragmentOutcome, FragmentTask, run_fragment
from e3suite.executors.dask_facts import probe_facts
from e3suite.model import FragmentState

#: Runs whose interruption this worker process has seen: their fragments no longer start.
_stopped_runs: set[str] = set()
_running = 0  # fragments running in this process
_lock = threading.Lock()


class E3suiteWorkerPlugin(WorkerPlugin):
    """Prepares each worker for e3suite's fragments and publishes its facts."""

    name = "e3suite"

    def __init__(self, root_dir: str, driver_files: list[str], suite_class: bytes | None) -> None:
        self.root_dir = root_dir
        self.driver_files = driver_files
        self.suite_class = suite_class

    def setup(self, worker: Any) -> None:
        add_to_path(self.root_dir)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        worker.e3suite_facts = self.facts()

    def facts(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        error = None
        if self.suite_class is not None:
            try:
                suite_class = cloudpickle.loads(self.suite_class)
                extra = dict(suite_class(self.root_dir).worker_facts())
            except Exception as exc:
                error = f"worker_facts() failed: {type(exc).__name__}: {exc}"
        facts = probe_facts(Path(self.root_dir), self.driver_files, extra)
        if error is not None:
            facts["facts_error"] = error
        return facts


def add_to_path(root_dir: str) -> None:
    if root_dir not in sys.path:
        sys.path.insert(0, root_dir)


def worker_facts(dask_worker: Any) -> dict[str, Any]:
    """The facts the plugin probed (run with ``client.run``)."""
    facts = getattr(dask_worker, "e3suite_facts", None)
    return dict(facts) if isinstance(facts, dict) else {}


def run_payload(payload: bytes, slot: int, run_id: str, root_dir: str) -> bytes:
    """The Dask task of one fragment: a pickled FragmentTask in, a pickled FragmentOutcome out."""
    global _running
    add_to_path(root_dir)
    start = time.time()
    try:
        task: FragmentTask = cloudpickle.loads(payload)
    except Exception as exc:
        error = f"cannot receive the fragment on its Dask worker: {type(exc).__name__}: {exc}"
        return _dump(FragmentOutcome(-1, FragmentState.FAILED, slot, start, time.time(), error=error,
                                     details=traceback.format_exc()))
    with _lock:
        if run_id in _stopped_runs:
            outcome = FragmentOutcome(task.index, FragmentState.READY, slot, start, time.time(), error="interrupted")
            return _dump(outcome)
        _running += 1
    _announce_start(run_id, task.index, slot)
    cwd = os.getcwd()
    try:
        # A KeyboardInterrupt raised by a callback here is its failure: the
        # engine's Ctrl-C never reaches a worker's Python (SIGINT ignored).
        outcome = run_fragment(task, slot, propagate_interrupt=False)
    finally:
        with _lock:
            _running -= 1
        with contextlib.suppress(OSError):
            os.chdir(cwd)
    data = _dump(outcome, task.fragment_id)
    if len(data) <= EVENT_OUTCOME_LIMIT and _send_event(outcome_topic(run_id), {"index": task.index, "data": data}):
        # Sent on the worker's stream to the scheduler, ahead of the task's
        # end: the engine has it without fetching the result from here.
        return SENT_AS_EVENT
    return data


#: The task's result when the outcome went as an event.
SENT_AS_EVENT = b""
#: Outcomes up to this size travel as events; the scheduler keeps the last
#: ones of a topic (distributed.admin.low-level-log-length): bounded memory.
EVENT_OUTCOME_LIMIT = 16 * 1024


def start_topic(run_id: str) -> str:
    """The Dask event topic on which a run's fragments announce their start."""
    return f"e3suite-started-{run_id}"


def outcome_topic(run_id: str) -> str:
    """The Dask event topic on which a run's small outcomes come back."""
    return f"e3suite-outcome-{run_id}"


def _send_event(topic: str, message: dict[str, Any]) -> bool:
    try:
        get_worker().log_event(topic, message)
    except Exception:  # not in a worker, or the scheduler is gone
        return False
    return True


def _announce_start(run_id: str, index: int, slot: int) -> None:
    # Tells the engine the fragment really started (journal, progress, the
    # timeout it enforces itself) and that a worker lost now was running it,
    # not merely holding it in its queue.
    _send_event(start_topic(run_id), {"index": index, "slot": slot, "time": time.time(), "pid": os.getpid()})


def _dump(outcome: FragmentOutcome, fragment_id: str = "?") -> bytes:
    try:
        return pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        what = "return value" if outcome.state is FragmentState.COMPLETE else "outcome"
        outcome.return_value = None
        outcome.state = FragmentState.FAILED
        why = f"{type(exc).__name__}: {exc}"
        outcome.error = f"the {what} of {fragment_id} cannot be sent back from its Dask worker: {why}"
        outcome.delta.info.clear()
        return pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)


def command_tag() -> str:
    """The tag prefix of every command this worker process started (see process.run)."""
    return f"{os.getpid()}:"


def kill_commands(run_id: str, grace: float, settle: float = 3.0) -> int:
    """Stop the run's fragments here: no new start, every command tree killed.

    A callback whose command was killed may go on to start another one, so
    the kill is repeated until the fragments running here have returned (or
    ``settle`` seconds passed). Returns the number of processes killed.
    """
    with _lock:
        _stopped_runs.add(run_id)
    killed = process.kill_process_tree([], grace=grace, tag=command_tag())
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        with _lock:
            busy = _running
        found = process.find_tagged(command_tag())
        if found:
            killed += process.kill_process_tree(list(found), grace=0)
        elif not busy:
            break
        time.sleep(0.05)
    return killed


def forget_run(run_id: str) -> None:
    """The run ended: the worker may serve a later run of the same id space again."""
    with _lock:
        _stopped_runs.discard(run_id)


def sweep_orphans(worker_pids: list[int]) -> int:
    """Kill the commands left by these (dead) worker processes of this host."""
    prefixes = tuple(f"{pid}:" for pid in worker_pids)
    if not prefixes:
        return 0
    killed = 0
    for _ in range(10):  # killed processes fork no more: scan until a scan finds nothing
        orphans = process.find_tagged(prefixes)
        if not orphans:
            break
        killed += process.kill_process_tree(list(orphans), grace=0)
    return killed
