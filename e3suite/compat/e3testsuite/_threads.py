"""The executor of e3-testsuite fragments that may share driver state: threads.

e3-testsuite runs fragments in threads of its process; fragments of one
testcase may then share their driver's attributes, and this executor keeps
that. It is e3suite's in-process executor plus what a production run needs
from it, since a thread itself cannot be stopped:

- the engine's environment carries a process tag (``<pid>:threads``) while
  the run lasts, so that what a callback starts by other means than
  ``shell()`` (``e3.os.process.Run``, ``subprocess``), and whatever that
  starts, is found by its tag like e3suite.process's commands (``<pid>:N``);
- an interruption, and the end of the run, kill every process carrying the
  engine's tag prefix (whole trees);
- a guardian (``e3suite.guardian``) kills them if the engine dies without
  a word (SIGKILL, the OOM killer): no worker is there to notice.

It never runs a fragment any other way.
"""

from __future__ import annotations

import contextlib
import os
import subprocess

import e3suite.guardian as guardian
import e3suite.process_tree as process_tree
from e3suite.executors.base import FragmentOutcome
from e3suite.executors.inprocess import InProcessExecutor


class ThreadExecutor(InProcessExecutor):
    # As in e3-testsuite's threads, an unpicklable return value reaches dependants as it is.
    check_return_values = False

    def __init__(self, jobs: int, kill_grace: float = 2.0) -> None:
        super().__init__(jobs)
        self.kill_grace = kill_grace
        self._guardian: subprocess.Popen[bytes] | None = None
        self._saved_tag: str | None = None
        self._tagged = False

    def start(self) -> None:
        super().start()
        self._saved_tag = os.environ.get(process_tree.TAG_VARIABLE)
        os.environ[process_tree.TAG_VARIABLE] = f"{os.getpid()}:threads"
        self._tagged = True
        self._guardian = guardian.start()

    def interrupt(self) -> list[FragmentOutcome]:
        outcomes = super().interrupt()
        self.kill_commands(self.kill_grace)
        return outcomes

    def shutdown(self) -> None:
        super().shutdown()
        self.kill_commands(0)
        if self._tagged:
            if self._saved_tag is None:
                os.environ.pop(process_tree.TAG_VARIABLE, None)
            else:
                os.environ[process_tree.TAG_VARIABLE] = self._saved_tag
            self._tagged = False
        if self._guardian is not None:
            # End of its stdin: it kills what is still tagged (nothing by now) and exits.
            with contextlib.suppress(OSError):
                if self._guardian.stdin is not None:
                    self._guardian.stdin.close()
            try:
                self._guardian.wait(30)
            except subprocess.TimeoutExpired:
                # Never let it scan later, while tear_down's commands run.
                self._guardian.kill()
                self._guardian.wait()
            self._guardian = None

    @staticmethod
    def kill_commands(grace: float) -> None:
        """End every process this run's threads started, and its descendants."""
        # process_tree has no public list of the commands being waited for:
        # its _running set is that list (see process_tree.watching). The tag
        # adds everything else a callback started (see start()).
        with process_tree._running_lock:
            running = set(process_tree._running)
        process_tree.kill_process_tree(running, grace=grace, tag=f"{os.getpid()}:")
