"""The driver API: TestDriver declares fragments, FragmentContext feeds them.

A driver is instantiated once per testcase and declares its fragments in
``add_fragments``. Each fragment callback receives one ``FragmentContext``.
This module knows nothing of scheduling, executors or the results store: it
must never start processes or touch the results directory itself.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import e3suite.workdirs as workdirs
from e3suite.model import DependencyOutcome, FailureReason, TestResult

if TYPE_CHECKING:
    from e3suite.process import CommandResult

FragmentCallback = Callable[["FragmentContext"], Any]

#: In the environment of every command a fragment runs: its attempt number.
ATTEMPT_VARIABLE = "E3SUITE_ATTEMPT"


class DriverError(Exception):
    """A driver declared something invalid (bad fragment name, duplicate...)."""


@dataclass(frozen=True)
class FragmentSpec:
    """A fragment as a driver declares it."""

    name: str
    callback: FragmentCallback
    after: tuple[str, ...] = ()
    timeout: float | None = None
    #: "success": runs only if its predecessors' testcases have not failed;
    #: "always": runs once they have ended, whatever their outcome
    when: str = "success"
    #: counted resources it holds while it runs ({"gpu": 1}); None: the testcase's (test.yaml)
    resources: dict[str, int] | None = None
    #: locks it holds while it runs; None: the testcase's (test.yaml)
    locks: tuple[str, ...] | None = None
    #: how many of the -j slots it counts as; None: the testcase's (test.yaml), else 1
    slots: int | None = None
    #: runs alone, nothing beside it; None: the testcase's (test.yaml)
    serial: bool | None = None


#: The values of ``add_fragment(..., when=...)``.
WHEN_VALUES = ("success", "always")


class FragmentContext:
    """What a fragment callback receives (all attributes are public API).

    - ``slot``: the slot number, 0..N-1, unique among running fragments;
    - ``previous``: predecessor -> its return value; same-testcase
      predecessors by fragment name (``"build"``), others by full fragment
      id (``"other/test:build"``);
    - ``test_env``: the ``test.yaml`` mapping;
    - ``test_dir`` / ``working_dir``: the testcase's directory and its
      private working directory (created when first asked for: a testcase
      that never uses it costs no directory);
    - ``options``: the parsed command-line options;
    - ``result``: the testcase's TestResult, to set the verdict and log;
    - ``matrix``: the values of a matrix testcase (empty otherwise);
    - ``test_id`` / ``fragment_id``: who is running;
    - ``timeout``: the fragment's timeout in seconds, or None;
    - ``attempt``: 1 for the first attempt, 2 for the first retry... (also
      ``E3SUITE_ATTEMPT`` in the environment of every command it runs);
    - ``outcomes``: predecessor (same keys as ``previous``) -> how it ended,
      a ``DependencyOutcome`` (state, its testcase's verdict so far);
    - ``resources``: the instances it holds, by resource (``{"gpu": [1]}``;
      also ``E3SUITE_RESOURCE_GPU=1`` in its commands' environment);
    - ``shell(cmd, ...)``: run a command, recorded in ``result.processes``.
    """

    def __init__(
        self,
        slot: int,
        previous: dict[str, Any],
        test_env: dict[str, Any],
        test_dir: Path,
        working_dir: Path,
        options: argparse.Namespace,
        result: TestResult,
        test_id: str,
        fragment_id: str,
        matrix: dict[str, Any] | None = None,
        timeout: float | None = None,
        attempt: int = 1,
        outcomes: dict[str, DependencyOutcome] | None = None,
        resources: dict[str, list[int]] | None = None,
    ) -> None:
        self.slot = slot
        self.resources = resources if resources is not None else {}
        self.attempt = attempt
        self.outcomes = outcomes if outcomes is not None else {}
        self.previous = previous
        self.test_env = test_env
        self.test_dir = test_dir
        self._working_dir = working_dir
        self._working_dir_made = False
        self.options = options
        self.result = result
        self.test_id = test_id
        self.fragment_id = fragment_id
        self.matrix = matrix if matrix is not None else {}
        self.timeout = timeout
        #: set by ``shell`` when a command timed out: the testcase's TIMEOUT message
        self.timed_out: str | None = None
        self._started = time.monotonic()

    @property
    def working_dir(self) -> Path:
        """The testcase's private working directory (made on first use)."""
        if not self._working_dir_made:
            make_working_dir(self._working_dir)
            self._working_dir_made = True
        return self._working_dir

    def __repr__(self) -> str:
        return f"FragmentContext({self.fragment_id!r}, slot={self.slot})"

    def shell(
        self,
        cmd: list[str] | str,
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | bytes | None = None,
        timeout: float | None = None,
        output_limit: int | None = None,
        merge_stderr: bool = True,
    ) -> CommandResult:
        """Run a command (see ``e3suite.process.run``) and record it in the result.

        ``cwd`` defaults to the working directory (a relative one is below
        it); ``timeout`` to what is
        left of the fragment's timeout. A command that times out makes the
        testcase FAIL with the TIMEOUT reason; descendants it leaves running
        are killed and noted in the log.
        """
        import e3suite.process as process  # the driver API stays free of process logic

        limit = timeout
        if limit is None and self.timeout is not None:
            # End the command (gracefully, output kept) before the executor
            # has to kill the whole callback.
            limit = max(0.05, self.timeout - (time.monotonic() - self._started))
        extra = resource_environment(self.resources)
        if os.environ.get(ATTEMPT_VARIABLE) != str(self.attempt):
            # A worker puts it in its environment for each fragment (cheap);
            # elsewhere (in-process threads) it goes with the command.
            extra[ATTEMPT_VARIABLE] = str(self.attempt)
        if extra:
            env = {**extra, **(env or {})}
        result = process.run(
            cmd,
            # A relative cwd is below the working directory, not wherever the
            # testsuite was started (the source tree).
            cwd=self.working_dir if cwd is None else self.working_dir / cwd,
            env=env,
            stdin=stdin,
            timeout=limit,
            kill_grace=float(getattr(self.options, "kill_grace", 2.0)),
            output_limit=process.DEFAULT_OUTPUT_LIMIT if output_limit is None else output_limit,
            merge_stderr=merge_stderr,
        )
        self.result.processes.append(result.to_json())
        if result.timed_out and self.timed_out is None:
            shown = timeout if timeout is not None else self.timeout
            self.timed_out = f"timed out after {shown} s"
            self.result.failure_reasons.add(FailureReason.TIMEOUT)
        if result.leaked:
            self.result.failure_reasons.add(FailureReason.LEAK)
            names = f": {', '.join(result.leaked_processes)}" if result.leaked_processes else ""
            self.result.log += f"{' '.join(result.argv)}: {result.describe()} (killed){names}\n"
        return result


def resource_variable(name: str) -> str:
    """``E3SUITE_RESOURCE_GPU`` for ``gpu``: the variable naming a resource's instances in commands' environment.

    Upper-cased, other characters than letters and digits as ``_``, so two
    names can map to one variable (``gpu``/``GPU``, ``gpu-a``/``gpu_a``):
    ``admission.capacities`` refuses such a pair, or commands would be given
    two resources' instances under one name.
    """
    return "E3SUITE_RESOURCE_" + "".join(c if c.isalnum() else "_" for c in name.upper())


def resource_environment(resources: Mapping[str, list[int]]) -> dict[str, str]:
    """``{"E3SUITE_RESOURCE_GPU": "0,1"}`` for the instances a fragment holds."""
    return {resource_variable(name): ",".join(map(str, ids)) for name, ids in resources.items()}


def make_working_dir(path: Path) -> None:
    """Create a testcase's working directory (it may exist).

    Working directories are made when first used, not for every testcase:
    on some file systems a ``mkdir`` costs as much CPU as running a small
    command (0.36 ms on ext4 here, 0.005 ms on tmpfs). An empty one left by
    a finished testcase is renamed instead when there is one (``workdirs``).
    """
    workdirs.make(path)


class TestDriver:
    """Base class of all drivers: one instance per testcase.

    Subclasses implement ``add_fragments`` and call ``add_fragment`` in it::

        class BuildRun(TestDriver):
            def add_fragments(self):
                self.add_fragment("build", self.build)
                self.add_fragment("run", self.run, after=["build"])

    ``after`` names fragments of the same testcase (``"build"``) or of
    another testcase (``"other/test:build"``). Callbacks must be picklable
    (bound methods of the driver and module-level functions are; lambdas and
    closures are not) because fragments may run in worker processes.
    """

    __test__ = False

    #: JSON Schema (a dict with "properties") of the test.yaml keys this
    #: driver reads, besides the keys common to every driver.
    test_yaml_schema: ClassVar[dict[str, Any]] = {}
    #: How many more times a failing testcase of this driver is tried, unless
    #: its test.yaml (``retries``) or ``--retries`` says otherwise.
    retries: ClassVar[int] = 0

    def __init__(
        self,
        test_id: str,
        test_env: dict[str, Any],
        test_dir: Path,
        working_dir: Path,
        options: argparse.Namespace,
        matrix: Mapping[str, Any] | None = None,
    ) -> None:
        self.test_id = test_id
        self.test_env = test_env
        self.test_dir = test_dir
        self._working_dir = working_dir
        self.options = options
        self.matrix = dict(matrix or {})
        self.fragments: list[FragmentSpec] = []
        #: test.yaml's lists and mappings holding items YAML typed, as written
        #: (``cmd: [true]`` -> ``{"cmd": ["true"]}``); set by planning
        self.test_yaml_written: dict[str, Any] = {}
        #: set by planning when ``control`` expects this testcase to fail (XFAIL):
        #: its message, "" for none; its output is then not one to keep as a baseline
        self.expected_failure: str | None = None

    @property
    def working_dir(self) -> Path:
        """The testcase's private working directory (made on first use, in callbacks)."""
        make_working_dir(self._working_dir)
        return self._working_dir

    @working_dir.setter
    def working_dir(self, path: Path) -> None:
        self._working_dir = path

    def add_fragments(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement add_fragments()")

    def add_fragment(
        self,
        name: str,
        callback: FragmentCallback,
        after: Iterable[str] = (),
        timeout: float | None = None,
        when: str = "success",
        resources: Mapping[str, int] | None = None,
        locks: Iterable[str] | None = None,
        slots: int | None = None,
        serial: bool | None = None,
    ) -> None:
        """Declare a fragment named ``name`` running ``callback(ctx)``.

        ``when="always"`` makes it run once its predecessors have ended,
        whatever their outcome (cleanup, collecting the logs of a failed
        build); the default ``"success"`` runs it only if they succeeded.
        ``resources`` (``{"gpu": 1}``), ``locks``, ``slots`` and ``serial``
        say what it holds while it runs (docs/resources.md); left out, the
        testcase's test.yaml keys of the same names apply.
        """
        if when not in WHEN_VALUES:
            raise DriverError(f"fragment {name!r}: when={when!r}, expected one of {', '.join(WHEN_VALUES)}")
        if not isinstance(name, str) or not name or ":" in name:
            raise DriverError(f"invalid fragment name {name!r}: it must be a non-empty string, without ':'")
        names = self.__dict__.setdefault("_fragment_names", set())
        if name in names:
            raise DriverError(f"fragment {name!r} declared twice")
        if not callable(callback):
            raise DriverError(f"fragment {name!r}: callback {callback!r} is not callable")
        if isinstance(after, str):
            after = [after]
        refs: tuple[Any, ...]
        try:
            refs = tuple(after)
        except TypeError:
            refs = (after,)  # after=None: reported just below
        not_names = [ref for ref in refs if not isinstance(ref, str) or not ref]
        if not_names:  # found now, not as an AttributeError deep in planning that stops the whole run
            raise DriverError(
                f"fragment {name!r}: after={not_names[0]!r} is no fragment name: expected strings, "
                "'build' (this testcase) or 'other/test:build'"
            )
        after = refs
        names.add(name)
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout) or timeout <= 0
        ):  # a string was taken for no timeout at all, 0 or less for a timeout at once
            raise DriverError(
                f"fragment {name!r}: timeout={timeout!r}, expected a finite number of seconds greater than 0 "
                "(None for no timeout)"
            )
        if slots is not None and (not isinstance(slots, int) or slots < 1):
            raise DriverError(f"fragment {name!r}: slots={slots!r}, expected an integer of at least 1")
        if isinstance(locks, str):
            locks = [locks]  # one lock, as for after: not one lock per character
        if locks is not None:
            locks = tuple(locks)
            if not all(isinstance(lock, str) and lock for lock in locks):
                raise DriverError(f"fragment {name!r}: locks={list(locks)!r}: lock names must be non-empty strings")
        if resources is not None:
            bad = {k: v for k, v in resources.items() if not isinstance(v, int) or isinstance(v, bool) or v < 1}
            if bad:
                raise DriverError(f"fragment {name!r}: resources={dict(resources)!r}: counts must be integers >= 1")
        self.fragments.append(
            FragmentSpec(
                name, callback, tuple(after), timeout, when,
                dict(resources) if resources is not None else None,
                tuple(locks) if locks is not None else None,
                slots,
                serial,
            )
        )

    def __getstate__(self) -> dict[str, Any]:
        # Callbacks are bound methods: pickling one pickles the driver. The
        # fragment list is only needed at plan time, so it does not travel.
        state = dict(self.__dict__)
        state["fragments"] = []
        state.pop("_fragment_names", None)
        return state
