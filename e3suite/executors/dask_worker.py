"""The code that runs on a Dask worker for e3suite.

- ``E3suiteWorkerPlugin``, registered by the engine on every worker (also
  those that join or are restarted later): puts the testsuite's directory
  first on ``sys.path`` (workers import the driver modules; those of another
  testsuite of the same names, imported for an earlier run, are forgotten:
  ``use_suite``), ignores SIGINT (Ctrl-C
  in a terminal reaches local workers too; the engine decides what an
  interruption does), makes the worker a child subreaper (as local workers
  are: a command's descendant that escaped with ``setsid`` becomes the
  worker's child, where the command's leak check finds it), and probes the
  worker's facts.
- ``run_batch``, the Dask task of a batch of fragments: for each, unpickles
  the ``FragmentTask`` (cloudpickle: classes of the user's ``testsuite.py``
  travel by value), runs it with ``run_fragment`` exactly as the local
  executor does (commands in their own session, timeouts, tree kills, leak
  detection, capped output; see e3suite/process.py) and sends back its
  pickled ``FragmentOutcome`` as soon as it ends, as a Dask event.
- ``revoke`` and ``stop_run``: the engine's orders that fragments of a
  batch held here must not start (given back, or a failure limit reached).
- ``kill_commands``, a control function the engine runs on every worker
  when it is interrupted: it stops new fragments of the run from starting
  and kills the process trees of the commands this worker started.
- ``sweep_orphans``: kills commands whose worker died (tagged with its pid).
- ``start_guardian``: a process that kills the commands a worker process
  leaves when it dies, however it dies (distributed ends a LocalCluster's
  workers with ``os._exit`` when a SIGKILLed engine leaves them).

It must never decide verdicts, write results, or raise into Dask for the
fragment's sake: every problem becomes a FAILED outcome.
"""

from __future__ import annotations

import contextlib
import importlib
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
from distributed.utils import sync

import e3suite.guardian as guardian
import e3suite.process as process
from e3suite.executors.base import FragmentOutcome, FragmentTask, run_fragment
from e3suite.executors.dask_facts import probe_facts
from e3suite.model import FragmentState

#: Runs this worker process has seen fragments or orders of (stopped, tickets revoked).
_runs: dict[str, _RunState] = {}
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
        use_suite(self.root_dir, self.driver_files)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        # Without it, a command's `setsid daemon &` was adopted by init: no
        # leak reported, and on an external scheduler the daemon outlived
        # the run (nothing kills by tag there at the end).
        process.become_subreaper()
        start_guardian()
        facts = self.facts()
        # By testsuite: on a shared scheduler, a worker that joins serves
        # each run whose plugin is registered, and the facts of one suite
        # (its driver hash) are not another's. With one slot, the last
        # plugin set up won: the other run refused that worker ("its driver
        # code differs").
        by_suite = getattr(worker, "e3suite_facts_by_suite", None)
        if not isinstance(by_suite, dict):
            by_suite = worker.e3suite_facts_by_suite = {}
        by_suite[self.root_dir] = facts
        worker.e3suite_facts = facts

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


#: The testsuite directory whose modules this worker process imports now.
_suite_root: str | None = None
#: Per testsuite directory: the top-level names of its code (``drivers``, ``testsuite``).
_suite_names: dict[str, set[str]] = {}
_suite_lock = threading.Lock()


def use_suite(root_dir: str, driver_files: list[str] | None = None) -> None:
    """Make this worker process import the testsuite of ``root_dir``'s modules, as its engine does.

    Its directory goes first on ``sys.path`` (the engine has it first: the
    script's directory). A worker of a shared scheduler may have imported
    another testsuite's modules of the same names before (every suite
    laid out as the manual says has a ``drivers`` package): those are
    forgotten, or tasks pickled by reference (``drivers.build.BuildRun``)
    ran the other suite's code, silently. Cheap when the suite is the one
    of the last call: run for every batch.
    """
    global _suite_root
    with _suite_lock:
        if driver_files is not None:
            _suite_names[root_dir] = {Path(name).parts[0].removesuffix(".py") for name in driver_files if name}
        if _suite_root == root_dir and sys.path[:1] == [root_dir]:
            return
        while root_dir in sys.path:
            sys.path.remove(root_dir)
        sys.path.insert(0, root_dir)
        names = _suite_names.get(root_dir, set())
        root = os.path.realpath(root_dir)
        stale = [name for name, module in list(sys.modules.items())
                 if name.partition(".")[0] in names and not _loaded_from(module, root)]
        for name in stale:
            sys.modules.pop(name, None)
        if stale:
            importlib.invalidate_caches()
        _suite_root = root_dir


def _loaded_from(module: Any, root: str) -> bool:
    """Whether ``module`` (a package: any of its directories) lies below the directory ``root``."""
    found: list[Any] = [getattr(module, "__file__", None)]
    with contextlib.suppress(Exception):
        found.extend(list(getattr(module, "__path__", None) or []))
    places = [p for p in found if isinstance(p, str)]
    if not places:
        return True  # built in, or made by hand: not a file of another suite
    return any(os.path.realpath(p).startswith(root + os.sep) for p in places)


def worker_facts(root_dir: str | None = None, dask_worker: Any = None) -> dict[str, Any]:
    """The facts the plugin probed for the testsuite of ``root_dir`` (``client.run`` gives ``dask_worker``)."""
    facts = getattr(dask_worker, "e3suite_facts", None)
    if root_dir is not None:
        by_suite = getattr(dask_worker, "e3suite_facts_by_suite", None)
        facts = by_suite.get(root_dir) if isinstance(by_suite, dict) else None
    return dict(facts) if isinstance(facts, dict) else {}


def run_batch(batch: list[tuple[int, bytes]], slot: int, run_id: str, root_dir: str) -> list[bytes]:
    """The Dask task of a batch of fragments: run them one after the other, each as the local executor would.

    ``batch`` holds (ticket, pickled FragmentTask) pairs; a ticket names one
    submission of a fragment (a fragment sent again gets a new one). Each
    fragment announces its start and sends its outcome as Dask events as
    soon as it ends (``run_one``). The result has one entry per ticket:
    ``SENT_AS_EVENT``, ``NOT_STARTED`` (the run was stopped, the ticket
    revoked, or an earlier outcome of the batch was too large for an
    event: the batch ends after such one, so that every ended fragment's
    outcome is known to the engine before the next one starts), or the
    pickled outcome.
    """
    use_suite(root_dir)
    results: list[bytes] = []
    for ticket, payload in batch:
        if results and results[-1] not in (SENT_AS_EVENT, NOT_STARTED):
            results.append(NOT_STARTED)
            continue
        results.append(run_one(ticket, payload, slot, run_id))
    return results


def run_one(ticket: int, payload: bytes, slot: int, run_id: str) -> bytes:
    """One fragment of a batch: a pickled FragmentTask in, SENT_AS_EVENT, NOT_STARTED or a pickled outcome out."""
    global _running
    start = time.time()
    try:
        task: FragmentTask = cloudpickle.loads(payload)
    except Exception as exc:
        error = f"cannot receive the fragment on its Dask worker: {type(exc).__name__}: {exc}"
        return _dump(FragmentOutcome(-1, FragmentState.FAILED, slot, start, time.time(), error=error,
                                     details=traceback.format_exc()))
    with _lock:
        state = _runs.setdefault(run_id, _RunState())
        if state.stopped or ticket in state.revoked:
            return NOT_STARTED
        state.claimed.add(ticket)
        _running += 1
    _announce_start(run_id, ticket, slot)
    cwd = os.getcwd()
    try:
        # A KeyboardInterrupt raised by a callback here is its failure: the
        # engine's Ctrl-C never reaches a worker's Python (SIGINT ignored).
        # Its commands carry the run's id in their tag: a worker of a shared
        # scheduler may run fragments of other runs beside them.
        with process.tag_scope(f"{run_id}:"):
            outcome = run_fragment(task, slot, propagate_interrupt=False)
    finally:
        with _lock:
            _running -= 1
            if not _running:
                _reap_adopted()
        with contextlib.suppress(OSError):
            os.chdir(cwd)
    with _lock:
        killed = state.killing
    if killed:
        # Its commands were killed by the engine's interruption: what it
        # ended with is no verdict (it ends ERROR "interrupted", as locally).
        outcome = FragmentOutcome(outcome.index, FragmentState.ABORTED, slot, outcome.start, outcome.end,
                                  error="interrupted")
    data = _dump(outcome, task.fragment_id)
    if len(data) <= EVENT_OUTCOME_LIMIT and _send_event(outcome_topic(run_id), {"t": ticket, "data": data}):
        # Sent on the worker's stream to the scheduler, ahead of the task's
        # end: the engine has it at once, without fetching it from here.
        return SENT_AS_EVENT
    return data


def _reap_adopted() -> None:
    """Reap the orphans this worker adopted as subreaper that ended on their own (no zombie stays).

    Only those: on a shared worker, another task's thread may have a child
    of its own that ended and that it has not waited for yet (a
    ``Popen(start_new_session=True)``): reaping it took its exit status
    from its owner, whom Python then tells 0. The kernel hands orphans to
    a subreaper's first live thread, the main thread (Dask's event loop,
    which starts no command: fragments and other tasks run in Dask's
    threads, whose children are listed under their own thread), so the
    adopted ones are exactly the main thread's children, the guardian
    aside. Each is waited for through a pidfd opened before it is checked,
    so that a pid reaped by another meanwhile and reused is never waited
    for. Called with ``_lock`` held and no fragment running in this process.
    """
    me = os.getpid()
    guardian_pid = _guardian.pid if _guardian is not None else None
    try:
        ours = os.getsid(0)
    except OSError:
        return
    for pid in _main_thread_children(me):
        if pid == guardian_pid:
            continue
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            continue  # gone: its owner reaped it
        try:
            # Checked on the process the pidfd names: still adopted, and in
            # a session other than ours (never a child the main thread
            # started itself, e.g. for a testsuite's worker_facts()).
            if pid in _main_thread_children(me) and os.getsid(pid) != ours:
                os.waitid(os.P_PIDFD, fd, os.WEXITED | os.WNOHANG)
        except (ChildProcessError, OSError):
            pass
        finally:
            os.close(fd)


def _main_thread_children(me: int) -> list[int]:
    """This process's main thread's children: the orphans it adopted as subreaper, and the guardian."""
    try:
        with open(f"/proc/{me}/task/{me}/children", "rb") as handle:
            return [int(pid) for pid in handle.read().split()]
    except (OSError, ValueError):
        return []


class _RunState:
    """What this worker process knows of one run: stopped, tickets revoked, tickets it started."""

    def __init__(self) -> None:
        self.stopped = False
        self.killing = False  # kill_commands began: fragments that end now were interrupted
        self.revoked: set[int] = set()
        self.claimed: set[int] = set()


def revoke(run_id: str, tickets: list[int]) -> list[int]:
    """Tickets that will never start in this worker process (those it has not started already).

    Run by the engine with ``client.run``, on the worker that holds a batch
    (or on every worker, for a batch not started anywhere): a ticket is
    revoked here or has started here, atomically with ``run_one``'s check.
    """
    with _lock:
        state = _runs.setdefault(run_id, _RunState())
        revoked = [t for t in tickets if t not in state.claimed]
        state.revoked.update(revoked)
    return revoked


def stop_run(run_id: str) -> None:
    """No fragment of the run starts here any more (what is running goes on)."""
    with _lock:
        _runs.setdefault(run_id, _RunState()).stopped = True


#: A ticket's entry in a batch's result when its outcome went as an event.
SENT_AS_EVENT = b""
#: A ticket's entry when its fragment never started (stopped, revoked, or after a large outcome).
NOT_STARTED = b"-"
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


def _announce_start(run_id: str, ticket: int, slot: int) -> None:
    # Tells the engine the fragment really started (journal, progress, the
    # timeout it enforces itself), on which worker (where its batch's other
    # fragments may be revoked), and that a worker lost now was running it,
    # not merely holding it in its queue.
    #
    # A round trip to the scheduler, not the worker's batched stream
    # (log_event): that one is flushed by the worker's event loop some
    # milliseconds later, and a fragment that kills its worker at once
    # (os._exit, a crash) took its start with it. The engine then could not
    # tell it from the fragments merely queued on that worker, and counted
    # those innocent ones as lost too (dask_batches.fate_after_loss). Once
    # this returns, the scheduler has published the start: it reaches the
    # engine before the worker's death does.
    message: dict[str, Any] = {"t": ticket, "time": time.time(), "pid": os.getpid()}
    try:
        worker = get_worker()
    except Exception:  # not in a worker
        return
    message["worker"] = worker.address
    try:
        sync(worker.loop, worker.scheduler.log_event, topic=start_topic(run_id), msg=message,
             callback_timeout=START_TIMEOUT)
    except Exception:  # the scheduler does not answer: the stream may still get it there
        _send_event(start_topic(run_id), message)


#: How long a fragment's start announcement may take to reach the scheduler before the fragment runs anyway.
START_TIMEOUT = 10.0


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


def command_tag(run_id: str) -> str:
    """The tag prefix of every command this worker process started for run ``run_id`` (see process.tag_scope)."""
    return f"{os.getpid()}:{run_id}:"


#: How long ``kill_commands`` goes on killing while fragments of the run are still running here.
KILL_SETTLE = 3.0


def kill_commands(run_id: str, grace: float, settle: float = KILL_SETTLE) -> int:
    """Stop the run's fragments here: no new start, every command tree of the run killed (not other runs').

    A callback whose command was killed may go on to start another one, so
    the kill is repeated until the fragments running here have returned (or
    ``settle`` seconds passed). Returns the number of processes killed.
    """
    with _lock:
        _runs.setdefault(run_id, _RunState()).killing = True
    stop_run(run_id)
    killed = process.kill_process_tree([], grace=grace, tag=command_tag(run_id))
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        with _lock:
            busy = _running
        found = process.find_tagged(command_tag(run_id))
        if found:
            killed += process.kill_process_tree(list(found), grace=0)
        elif not busy:
            break
        time.sleep(0.05)
    return killed


#: This worker process's guardian (e3suite.guardian): it kills the commands
#: we leave when we die, however we die. We hold its stdin until then.
_guardian: Any = None


def start_guardian() -> None:
    """Start this worker process's guardian, once (the plugin is set up again for each run)."""
    global _guardian
    with _lock:
        if _guardian is None or _guardian.poll() is not None:
            _guardian = guardian.start()


def forget_run(run_id: str) -> None:
    """The run ended: the worker may serve a later run of the same id space again."""
    with _lock:
        _runs.pop(run_id, None)


def sweep_orphans(worker_pids: list[int]) -> int:
    """Kill the commands left by these (dead) worker processes of this host."""
    prefixes = tuple(f"{pid}:" for pid in worker_pids)
    return process.kill_tagged(prefixes) if prefixes else 0
