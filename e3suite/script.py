"""What a testsuite script needs from the interpreter that runs it: where it is, the collector, and a cheap exit."""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path

_exit_hooked = False


def default_root(cls: type) -> Path:
    """The directory of the module defining ``cls``: the testsuite's script, as a rule.

    ``Testsuite()`` itself (no subclass) is defined in e3suite's package:
    then the script that runs it (``__main__``), or the current directory.
    The script is ``sys.argv[0]`` when that is a file: a runner such as
    ``python -m cProfile testsuite.py`` leaves its own module as
    ``__main__`` (whose directory holds no tests) while it runs the script.
    """
    module = cls.__module__
    if module.startswith("e3suite."):
        module = "__main__"
    module_file = getattr(sys.modules.get(module), "__file__", None)
    if module == "__main__" and sys.argv and sys.argv[0] and os.path.isfile(sys.argv[0]):
        module_file = sys.argv[0]
    return Path(module_file).resolve().parent if module_file else Path.cwd()


def cheap_exit() -> None:
    """At the interpreter's exit, spare the last garbage collection over a run's objects.

    Python's finalization walks every tracked object once more: 0.55 s after
    a 10,000-testcase run (W5) on this machine, 25 ms after 200. Frozen
    objects are not walked: everything the run built is frozen once the
    process is about to end, when nothing can use it again. Only at exit:
    a program that calls ``main()`` and goes on is not affected.
    """
    global _exit_hooked
    if not _exit_hooked:
        _exit_hooked = True
        atexit.register(gc.freeze)


class PlanningCollector:
    """The garbage collector while discovery and planning build the plan, which the run then keeps.

    Collecting as the plan grows walks it again and again (four full passes,
    0.17 s of a 10,000-testcase start-up), so ``main()`` pauses the
    collector until the plan is frozen, then resumes it as the program had
    it. Planning leaves next to no garbage cycles (9 objects for 10,000
    testcases, 320 with 1000 test.yaml that do not parse): they are freed
    once the run is over. The testsuite's own code (``set_up``) runs ``on``.
    """

    def __init__(self) -> None:
        self._was_on: bool | None = None  # None: never paused (another runner called _main)

    def pause(self) -> None:
        self._was_on = gc.isenabled()
        gc.disable()

    def resume(self) -> None:
        if self._was_on:
            gc.enable()

    @contextlib.contextmanager
    def on(self) -> Iterator[None]:
        """As the program had it, while the block runs."""
        if self._was_on is None:
            yield
            return
        self.resume()
        try:
            yield
        finally:
            gc.disable()
