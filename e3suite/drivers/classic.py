"""ClassicDriver: the base of most test types (one fragment, run then analyze).

A subclass writes ``run()`` and calls ``self.shell([...])`` in it. The
fragment then calls, in order: copy the test directory into the working
directory (``copy_test_directory``), ``set_up()``, ``run()``, ``analyze()``
(which turns ``compute_failures()`` into PASS or FAIL), and ``tear_down()``
whatever happened. Raising ``TestSkip``, ``TestAbortWithError`` or
``TestAbortWithFailure`` anywhere gives SKIP, ERROR or FAIL with the
exception's message; any other exception is a driver bug the engine reports
as ERROR with its traceback.

This module never decides how commands are run (``FragmentContext.shell``
and ``e3suite.process`` do) and never touches the results directory.
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import os
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import e3suite.command_output as command_output
from e3suite.command_output import CommandResult, command_text
from e3suite.driver import FragmentContext, TestDriver
from e3suite.model import FailureReason, TestResult, TestStatus


class TestControlException(Exception):
    """Base of the exceptions that end a ClassicDriver testcase with a verdict."""

    __test__ = False
    status = TestStatus.ERROR


class TestSkip(TestControlException):
    """The testcase does not apply here: SKIP with this message."""

    status = TestStatus.SKIP


class TestAbortWithError(TestControlException):
    """The testcase cannot run (a setup problem): ERROR with this message."""

    status = TestStatus.ERROR


class TestAbortWithFailure(TestControlException):
    """The testcase failed; stop now: FAIL with this message."""

    status = TestStatus.FAIL


class ClassicDriver(TestDriver):
    """One fragment named ``run``: set_up, run, analyze, tear_down.

    Attributes available while the fragment runs: ``ctx`` (the
    FragmentContext), ``result`` (the TestResult), ``output`` (what the
    ``shell`` calls printed so far, concatenated).
    """

    #: copy the test directory into the working directory before set_up
    copy_test_directory: bool = True
    #: name of the one fragment
    fragment_name: str = "run"

    def add_fragments(self) -> None:
        self.add_fragment(self.fragment_name, self.run_fragment)

    # -- what subclasses override --------------------------------------------

    def set_up(self) -> None:
        """Prepare the working directory (after the copy of the test directory)."""

    def run(self) -> None:
        """Run the testcase: usually one or more ``self.shell`` calls."""
        raise NotImplementedError(f"{type(self).__name__} must implement run()")

    def compute_failures(self) -> list[str]:
        """Messages of what went wrong; an empty list means PASS."""
        return []

    def analyze(self) -> None:
        """Set the verdict from ``compute_failures()``."""
        failures = self.compute_failures()
        if failures:
            self.result.set_status(TestStatus.FAIL, "; ".join(failures))
        else:
            self.result.set_status(TestStatus.PASS)

    def tear_down(self) -> None:
        """Always called last, even after a failure or an exception."""

    # -- helpers ---------------------------------------------------------------

    def shell(
        self,
        cmd: list[str] | str,
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | bytes | None = None,
        timeout: float | None = None,
        catch_error: bool = True,
        analyze_output: bool = True,
    ) -> CommandResult:
        """Run ``cmd`` in the working directory and log it.

        With ``analyze_output`` its output is appended to ``self.output``
        (what DiffDriver compares). With ``catch_error``, a non-zero exit
        status stops the testcase with FAIL. A command that times out, or
        that a signal killed, always stops it with FAIL (reason TIMEOUT or
        CRASH): what it printed is not worth analysing.
        """
        result = self.ctx.shell(cmd, cwd=cwd, env=env, stdin=stdin, timeout=timeout)
        self.result.log += f"$ {command_text(result.argv)}\n{result.output}"
        if result.output and not result.output.endswith("\n"):
            self.result.log += "\n"
        if result.timed_out:
            # ctx.timed_out names the testcase's timeout (the command got what was left of it).
            self.result.log += f"[{self.ctx.timed_out or result.describe()}]\n"
        elif not result.ok:
            self.result.log += f"[{result.describe()}]\n"
        if result.timed_out:
            raise TestAbortWithFailure(self.ctx.timed_out or result.describe())
        if result.signal is not None:
            self.result.failure_reasons.add(FailureReason.CRASH)
            raise TestAbortWithFailure(f"{command_text(result.argv)}: {result.describe()}")
        if analyze_output:
            self.output += analyzed_output(result)
        if catch_error and result.status != 0:
            raise TestAbortWithFailure(f"{command_text(result.argv)}: {result.describe()}")
        return result

    def copy_test_dir(self) -> None:
        """Copy the test directory's content into the working directory.

        A test directory that holds nothing but ``test.yaml`` is not copied:
        the working directory is then made empty, when a command first uses
        it. Otherwise everything is copied, ``test.yaml`` included (see
        ``copy_test_tree``).
        """
        if not holds_only_test_yaml(self.test_dir):
            try:
                copy_test_tree(self.test_dir, self._working_dir)
            except OSError as exc:  # shutil.Error too
                # An input the copy refuses (a named pipe, an unreadable file) is the
                # testcase's problem, said in one line, not a traceback of shutil's.
                raise TestAbortWithError(
                    f"cannot copy the test directory into its working directory: {copy_problems(exc, self.test_dir)}"
                ) from None

    # -- the fragment ------------------------------------------------------------

    def run_fragment(self, ctx: FragmentContext) -> None:
        self.ctx = ctx
        self.result: TestResult = ctx.result
        self.output = ""
        try:
            try:
                if self.copy_test_directory:
                    self.copy_test_dir()
                self.set_up()
                self.run()
                self.analyze()
            except BaseException:
                # What went wrong first decides: a TestSkip from tear_down ("nothing to
                # clean") must not turn a crash of run() into a SKIP, its traceback lost.
                self._tear_down_after_error()
                raise
            self.tear_down()
        except TestControlException as exc:
            # A verdict set by analyze() before tear_down raised stays the first one;
            # setting a second would be reported as a double verdict by the engine.
            if self.result.status is None:
                self.result.set_status(exc.status, str(exc))
            else:
                self.result.log += f"tear_down: {type(exc).__name__}: {exc}\n"

    def _tear_down_after_error(self) -> None:
        """``tear_down()`` while an exception is on its way: its own verdict only goes to the log.

        Any other exception it raises is a driver bug: it propagates, chained to the first one.
        """
        try:
            self.tear_down()
        except TestControlException as exc:
            self.result.log += f"tear_down: {type(exc).__name__}: {exc}\n"

    def __getstate__(self) -> dict[str, Any]:
        # The per-run attributes (ctx, result, output) never travel.
        state = super().__getstate__()
        for name in ("ctx", "result", "output"):
            state.pop(name, None)
        return state


def analyzed_output(result: CommandResult) -> str:
    """All the command printed, not the capped ``result.output``: what is compared must be whole."""
    full = result.full_output()
    if full is None:
        if result.output_size > command_output.FULL_OUTPUT_LIMIT:
            problem = f"more than the {command_output.FULL_OUTPUT_LIMIT} that can be compared"
        else:
            problem = "and it could not be kept whole for the comparison (no room in its working directory?)"
        raise TestAbortWithError(f"{command_text(result.argv)} printed {result.output_size} bytes, {problem}")
    return full


def holds_only_test_yaml(test_dir: Path) -> bool:
    """True when ``test_dir`` holds ``test.yaml`` and nothing else (one directory listing)."""
    try:
        with os.scandir(test_dir) as entries:
            names = [entry.name for entry in itertools.islice(entries, 2)]
    except OSError:
        return False  # let the copy report the problem
    return names == [TEST_YAML]


def copy_problems(error: OSError, test_dir: Path, shown: int = 3) -> str:
    """``fifo: ... is a named pipe; ...``: what a copy of ``test_dir`` failed on, paths relative to it."""

    def where(path: object) -> str:
        try:
            return str(Path(str(path)).relative_to(test_dir))
        except ValueError:
            return str(path)

    if isinstance(error, shutil.Error) and error.args and isinstance(error.args[0], list):
        # copytree goes on after a failed entry, then raises them all: (source, destination, why).
        entries = [f"{where(src)}: {why}" for src, _dst, why in error.args[0]]
    elif error.filename is not None:
        entries = [f"{where(error.filename)}: {error.strerror or error}"]
    else:
        entries = [str(error)]
    more = f"; and {len(entries) - shown} more" if len(entries) > shown else ""
    return "; ".join(entries[:shown]) + more


def copy_test_tree(source: Path, destination: Path) -> None:
    """Copy ``source`` into ``destination`` (made if needed): a private copy.

    Files are cloned where the file system can (a reflink on btrfs, XFS...:
    copy-on-write, so nothing is copied until one side writes), otherwise
    copied; modes and times are kept, symbolic links copied as links. Never
    hard links: they share the inode, so a testcase appending to its copy,
    or changing its mode, would change the source tree.
    """
    devices = (os.stat(source).st_dev, _device_of(destination))
    if devices in _NO_REFLINK:
        shutil.copytree(source, destination, symlinks=True, dirs_exist_ok=True)
        return

    def clone_or_copy(src: str, dst: str) -> object:
        # Regular files only: opening a FIFO would block (copy2 refuses it).
        if devices not in _NO_REFLINK and stat.S_ISREG(os.stat(src).st_mode) and _clone(src, dst):
            shutil.copystat(src, dst)
            return dst
        _NO_REFLINK.add(devices)
        return shutil.copy2(src, dst)

    shutil.copytree(source, destination, symlinks=True, dirs_exist_ok=True, copy_function=clone_or_copy)


TEST_YAML = "test.yaml"
#: ioctl(dst, FICLONE, src): share src's blocks copy-on-write (linux/fs.h)
_FICLONE = 0x40049409
#: (source device, destination device) pairs where a clone failed: copy straight away
_NO_REFLINK: set[tuple[int, int]] = set()
#: what a clone fails with where the file system (or the pair of them) cannot
_NO_CLONE_ERRORS = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EPERM}


def _device_of(path: Path) -> int:
    """The device of ``path``, or of its nearest existing parent (it may not exist yet)."""
    while True:
        try:
            return os.stat(path).st_dev
        except FileNotFoundError:
            if path.parent == path:
                raise
            path = path.parent


def _clone(src: str, dst: str) -> bool:
    """Make ``dst`` a reflink of ``src``; False (``dst`` left to the copy) where that cannot be done."""
    try:
        with open(src, "rb") as fsrc, open(dst, "wb") as fdst:
            fcntl.ioctl(fdst.fileno(), _FICLONE, fsrc.fileno())
    except OSError as exc:
        if exc.errno in _NO_CLONE_ERRORS:
            return False
        raise
    return True


