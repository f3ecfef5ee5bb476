"""The executor of e3-testsuite fragments that may share driver state: threads.

e3-testsuite runs fragments in threads of its process; fragments of one
testcase may then share their driver's attributes, and this executor keeps
that. It is e3suite's in-process executor plus what a production run needs
from it: an interruption, and the end of the run, kill the commands the
threads are still waiting for (whole trees, e3suite.process's tags), since
a thread itself cannot be stopped. It never runs a fragment any other way.
"""

from __future__ import annotations

import os

import e3suite.process_tree as process_tree
from e3suite.executors.base import FragmentOutcome
from e3suite.executors.inprocess import InProcessExecutor


class ThreadExecutor(InProcessExecutor):
    def __init__(self, jobs: int, kill_grace: float = 2.0) -> None:
        super().__init__(jobs)
        self.kill_grace = kill_grace

    def interrupt(self) -> list[FragmentOutcome]:
        outcomes = super().interrupt()
        self.kill_commands(self.kill_grace)
        return outcomes

    def shutdown(self) -> None:
        super().shutdown()
        self.kill_commands(0)

    @staticmethod
    def kill_commands(grace: float) -> None:
        """End every command a thread of this process is running, and its descendants."""
        # process_tree has no public list of the commands being waited for:
        # its _running set is that list (see process_tree.watching).
        with process_tree._running_lock:
            running = set(process_tree._running)
        if running:
            process_tree.kill_process_tree(running, grace=grace, tag=f"{os.getpid()}:")
