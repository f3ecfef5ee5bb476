"""Run fragments inside the engine's own process (threads, one per slot).

This is the debugging executor: with one slot the callback runs in the
engine's main thread, so ``breakpoint()`` and pdb work. It gives no crash
isolation and cannot stop a callback stuck in Python; the local
multi-process executor is the one for real runs.
"""

from __future__ import annotations

import os
import queue
import threading
import time

import e3suite.process_tree as process_tree
import e3suite.workdirs as workdirs
from e3suite.executors.base import (
    ExecutorDefaults,
    FragmentOutcome,
    FragmentStarted,
    FragmentTask,
    ProcessState,
    fail_unsendable_return_value,
    run_fragment,
)
from e3suite.model import FragmentState


class InProcessExecutor(ExecutorDefaults):
    #: Return values must be picklable, as with worker processes (where
    #: they cross a pipe): debugging must not hide what a real run refuses.
    check_return_values = True

    def __init__(self, jobs: int) -> None:
        self.jobs = max(1, jobs)
        self._free = list(range(self.jobs - 1, -1, -1))  # pop() gives slot 0 first
        self._running: dict[int, tuple[FragmentTask, int, float]] = {}
        self._done: queue.Queue[FragmentOutcome] = queue.Queue()
        self._pending: list[tuple[FragmentTask, int]] = []  # main-thread mode only
        self._started: list[FragmentStarted] = []

    def start(self) -> None:
        pass

    def free_slots(self) -> int:
        return len(self._free)

    def submit(self, task: FragmentTask) -> None:
        slot = self._free.pop()
        self._running[task.index] = (task, slot, time.time())
        if self.jobs == 1:
            self._pending.append((task, slot))
            return
        self._started.append(FragmentStarted(task.index, slot, time.time(), os.getpid()))
        thread = threading.Thread(
            target=lambda: self._done.put(self._run(task, slot)),
            name=f"e3suite-slot-{slot}",
            daemon=True,
        )
        thread.start()

    def _run(self, task: FragmentTask, slot: int) -> FragmentOutcome:
        # Ctrl-C reaches the main thread only: a KeyboardInterrupt in a
        # slot's thread is the callback's own, its fragment's error (going
        # through, it ended the thread with no outcome, and the run hung).
        in_main = threading.current_thread() is threading.main_thread()
        outcome = run_fragment(task, slot, propagate_interrupt=in_main)
        if self.check_return_values:
            fail_unsendable_return_value(outcome, task.fragment_id)
        return outcome

    def wait(self, timeout: float | None) -> list[FragmentOutcome]:
        outcomes: list[FragmentOutcome] = []
        while self._pending:
            task, slot = self._pending.pop(0)
            # One slot: the callback runs in the main thread, where pdb works;
            # what it changes in the process is put back after it.
            state = ProcessState()
            try:
                outcome = self._run(task, slot)
            finally:
                state.restore()
            outcome.leaks.extend(process_tree.kill_leftover_children())
            if task.recycle_working_dir and not outcome.leaks:
                workdirs.recycle(task.working_dir)
            outcomes.append(outcome)
        if not outcomes:
            try:
                outcomes.append(self._done.get(timeout=timeout))
            except queue.Empty:
                return []
        while True:
            try:
                outcomes.append(self._done.get_nowait())
            except queue.Empty:
                break
        for outcome in outcomes:
            if outcome.index in self._running:
                _, slot, _ = self._running.pop(outcome.index)
                self._free.append(slot)
        return outcomes

    def interrupt(self) -> list[FragmentOutcome]:
        # Threads cannot be stopped: their fragments are reported aborted and
        # whatever they send later is ignored.
        now = time.time()
        outcomes = [
            FragmentOutcome(task.index, FragmentState.ABORTED, slot, start, now, error="interrupted")
            for task, slot, start in self._running.values()
        ]
        self._running.clear()
        self._pending.clear()
        return outcomes

    def take_started(self) -> list[FragmentStarted]:
        started, self._started = self._started, []
        return started

    def shutdown(self) -> None:
        pass
