"""e3-testsuite's ClassicTestDriver: one fragment, set_up/run/analyze/tear_down.

Same life as in e3-testsuite 27.x: test control (``control:`` entries:
SKIP, XFAIL), copy of the test directory into the working directory,
``set_up``, ``run``, ``analyze`` (``compute_failures`` gives PASS or FAIL,
XPASS/XFAIL under XFAIL control), ``tear_down`` always; ``TestSkip``,
``TestAbortWithError`` and ``TestAbortWithFailure`` end the testcase.
``shell()`` runs commands through ``e3suite.process`` (own session, tree
kill on timeout, leak detection) and returns a ``ProcessResult`` with
``.status`` and ``.out``; a command that times out ends with status 2 and
rlimit's message, as under e3-testsuite. This module never decides how
commands are started: e3suite.process does.
"""

from __future__ import annotations

import errno
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import e3suite.compat.e3testsuite._bridge as _bridge
import e3suite.process as process
import e3suite.process_tree as process_tree
from e3suite.compat.e3testsuite.control import TestControl, TestControlCreator, YAMLTestControlCreator
from e3suite.compat.e3testsuite.driver import TestDriver
from e3suite.compat.e3testsuite.result import Log, TestResult, TestStatus, binary_repr, truncated
from e3suite.compat.e3testsuite.utils import CleanupMode, DummyColors, indent


class TestSkip(Exception):
    """Raise it to end the testcase with SKIP."""

    __test__ = False


class TestAbortWithError(Exception):
    """Raise it to end the testcase with ERROR."""

    __test__ = False


class TestAbortWithFailure(Exception):
    """Raise it to end the testcase with FAIL (XFAIL under XFAIL control)."""

    __test__ = False


TIMEOUT_OUTPUT_PATTERN = r"rlimit: Real time limit ([^\n]+) exceeded\n"
TIMEOUT_OUTPUT_STR_RE = re.compile(TIMEOUT_OUTPUT_PATTERN)
TIMEOUT_OUTPUT_BYTES_RE = re.compile(TIMEOUT_OUTPUT_PATTERN.encode("ascii"))
#: output kept per command (e3-testsuite keeps everything; e3suite caps a runaway command)
OUTPUT_LIMIT = 256 * 1024 * 1024
DEVNULL = subprocess.DEVNULL  # what e3.os.process.DEVNULL is


class ProcessResult:
    """How a ``shell`` command ended: ``status`` and ``out`` (str, or bytes in binary mode)."""

    def __init__(self, status: int, out: str | bytes) -> None:
        self.status = status
        self.out = out


#: What e3's rlimit prints (and returns 1) when given a negative number of seconds.
RLIMIT_USAGE = "Usage:\n   rlimit [--foreground] seconds command [args]\n"


class InvalidTimeout(_bridge.ExplainedError, TypeError):
    """A command timeout that is not a number (a TypeError, as e3's Run raises)."""


class ClassicTestDriver(TestDriver):
    """One fragment, ``run_wrapper``: control, copy, set_up, run, analyze, tear_down."""

    output: Log[Any]
    test_control: TestControl

    @property
    def copy_test_directory(self) -> bool:
        return True

    def run(self) -> None:
        raise NotImplementedError

    @property
    def default_process_timeout(self) -> int:
        # As given (e3-testsuite does not convert it): shell() checks it.
        return self.test_env.get("timeout", 5 * 60)  # type: ignore[no-any-return]

    def _whole_seconds(self, timeout: Any, from_yaml: bool) -> int | None:
        """``timeout`` as e3's Run gives it to rlimit, ``"%d" % timeout``: whole seconds (0.5 is 0, at once).

        None (``timeout: null``) is no limit, as e3's Run has none then.

        What ``"%d"`` refuses (``timeout: "5"`` in test.yaml, a string; or
        ``.inf``) is an ERROR under e3-testsuite, a TypeError (OverflowError)
        deep in e3's Run; here, the same ERROR with a message that says
        which timeout and why.
        """
        if timeout is None:
            return None
        try:
            seconds = "%d" % timeout  # noqa: UP031 (what e3's Run does, to refuse what it refuses)
        except (TypeError, OverflowError, ValueError) as exc:  # .inf, .nan: OverflowError, ValueError
            kind = "a string" if isinstance(timeout, str) else f"a {type(timeout).__name__}"
            what = f"is {kind}, not a number of seconds"
            if not isinstance(exc, TypeError):
                what = "is not a finite number of seconds"
            yaml_file = os.path.join(str(self.test_env.get("test_dir", ".")), "test.yaml")
            if from_yaml and self.test_env.get("timeout") is timeout and os.path.isfile(yaml_file):
                number = isinstance(timeout, str) and re.fullmatch(r"\s*\d+(\.\d*)?\s*", timeout)
                hint = f" (write timeout: {str(timeout).strip()}, without quotes)" if number else ""
                raise InvalidTimeout(f"invalid test.yaml: {yaml_file}: timeout: {timeout!r} {what}{hint}") from None
            raise InvalidTimeout(f"invalid timeout: {timeout!r} {what}") from None
        return int(seconds)  # what rlimit is given (it refuses a negative one)

    @property
    def default_encoding(self) -> str:
        return str(self.test_env.get("encoding", "utf-8"))

    @property
    def test_control_creator(self) -> TestControlCreator:
        return YAMLTestControlCreator({})

    def shell(
        self,
        args: list[str],
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        catch_error: bool = True,
        analyze_output: bool = True,
        timeout: int | None = None,
        encoding: str | None = None,
        truncate_logs_threshold: int | None = None,
        ignore_environ: bool = True,
        stdin: Any = DEVNULL,
    ) -> ProcessResult:
        """Run ``args``; log it; add its output to ``self.output``; FAIL on a non-zero status."""
        if isinstance(args, (str, bytes)):  # type: ignore[unreachable]
            # e3's Run raises on it too; iterated, it ran its first letter (status 127, a FAIL).
            raise TypeError(
                f"shell() takes the command as a list of arguments, not a string: {args!r} "
                f"(for a shell command line: shell(['sh', '-c', {args!r}]))"
            )
        if cwd is None:
            cwd = self.test_env["working_dir"]
        from_yaml = timeout is None
        if timeout is None:
            timeout = self.default_process_timeout
        timeout = self._whole_seconds(timeout, from_yaml)
        if truncate_logs_threshold is None:
            truncate_logs_threshold = int(getattr(self.testsuite_options, "truncate_logs", 200))
        argv = [os.fspath(a) for a in args]
        shown = " ".join(shlex.quote(a) for a in argv)
        self.result.log += f"Running: {shown} (cwd={cwd})\n"
        info: dict[str, Any] = {"cmd": argv, "cwd": cwd}
        self.result.processes.append(info)
        ctx = _bridge.current_context()
        if timeout is not None and timeout < 0:
            # rlimit does not start it: it prints its usage and returns 1.
            ran = process.CommandResult(
                argv=argv, status=1, signal=None, timed_out=False, timeout=None, output=RLIMIT_USAGE,
                output_size=len(RLIMIT_USAGE), cwd=cwd, output_bytes=RLIMIT_USAGE.encode(),
            )
        elif timeout == 0:
            # rlimit kills it as soon as it is started: nothing it would do happens.
            ran = process.CommandResult(
                argv=argv, status=None, signal=None, timed_out=True, timeout=0.0, output="", output_size=0,
                cwd=cwd, output_bytes=b"",
            )
        else:
            ran = process.run(
                _exact_environment(_resolved(argv), env, ignore_environ),
                cwd=cwd,
                env=env,
                stdin=_stdin_data(stdin),
                timeout=timeout,
                kill_grace=float(getattr(ctx.options, "kill_grace", 2.0)) if ctx is not None else 2.0,
                output_limit=OUTPUT_LIMIT,
                keep_bytes=True,
            )
        if ran.error is not None and not os.path.isdir(cwd):
            # e3-testsuite's Run cannot start rlimit there and raises: the
            # fragment's ERROR (not a non-zero status, hence a FAIL).
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), cwd)
        if ctx is not None:
            ctx.result.processes.append(ran.to_json())
            if ran.leaked:
                ctx.result.log += f"{shown}: {ran.describe()}\n"
        # The bytes as written (a capped runaway output: its UTF-8 text, with the cut marked).
        raw = ran.output_bytes if ran.output_bytes is not None else ran.output.encode("utf-8")
        status = ran.status if ran.status is not None else 128 + (ran.signal or 0)
        if ran.timed_out:
            # What rlimit, which e3-testsuite wraps commands in, prints and returns.
            raw += f"rlimit: Real time limit ({timeout} s) exceeded\n".encode()
            status = 2
        encoding = encoding or self.default_encoding
        out: str | bytes
        if encoding == "binary":
            out = raw
        else:
            try:
                out = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                self.result.log += "Cannot decode subprocess output:\n\n" + indent(binary_repr(raw))
                raise TestAbortWithError(f"cannot decode process output ({type(exc).__name__}: {exc})") from exc
        result = ProcessResult(status, out)
        info["status"] = status
        info["output"] = Log(out)
        self.result.log += f"Status code: {status}\n"
        self.result.log += "Output: \n" + truncated(str(info["output"]), truncate_logs_threshold) + "\n"
        if analyze_output:
            self.output += out
        if catch_error and status != 0:
            raise TestAbortWithFailure("non-zero status code")
        return result

    def add_test(self, dag: Any) -> None:
        self.add_fragment(dag, "run_wrapper")

    def push_success(self) -> None:
        if self.test_control.xfail:
            self.result.set_status(TestStatus.XPASS, self.test_control.message or "")
        else:
            self.result.set_status(TestStatus.PASS)
        self.push_result()

    def push_skip(self, message: str | None) -> None:
        self.result.set_status(TestStatus.SKIP, message)
        self.push_result()

    def push_error(self, message: str | None) -> None:
        self.result.set_status(TestStatus.ERROR, message)
        self.push_result()

    def push_failure(self, message: str | None) -> None:
        if self.test_control.xfail:
            status = TestStatus.XFAIL
            if self.test_control.message:
                message = f"{message} ({self.test_control.message})"
        else:
            status = TestStatus.FAIL
        self.result.set_status(status, message)
        self.push_result()

    def set_up(self) -> None:
        """Prepare the testcase (after the copy of the test directory)."""

    def cleanup_working_dir(self) -> None:
        shutil.rmtree(self.working_dir(), ignore_errors=True)

    def tear_down(self) -> None:
        """Remove the working directory, as the cleanup mode says."""
        mode = getattr(self.env, "cleanup_mode", CleanupMode.PASSING)
        failed = self.result.status in (TestStatus.FAIL, TestStatus.XFAIL, TestStatus.XPASS, TestStatus.ERROR)
        if mode is CleanupMode.NONE or (mode is CleanupMode.PASSING and failed) or not self.working_dir_cleanup_enabled:
            return
        try:
            self.cleanup_working_dir()
        except Exception as exc:
            error = TestResult(f"{self.test_name}__tear_down", env=self.test_env, status=TestStatus.ERROR)
            error.log += f"Error while removing the working directory {self.working_dir()}: {exc}\n"
            self.push_result(error)

    def run_wrapper(self, prev: dict[str, Any], slot: int) -> None:
        self.slot = slot
        self.Fore = self.Style = DummyColors()
        try:
            self.test_control = self.test_control_creator.create(self)
        except ValueError as exc:
            return self.push_error(f"Error while interpreting control: {exc}")
        if self.test_control.skip:
            if self.test_control.xfail:
                return self.push_failure(self.test_control.message)
            return self.push_skip(self.test_control.message)
        if self.copy_test_directory:
            _sync_tree(self.test_env["test_dir"], self.test_env["working_dir"])
        self.output = Log(b"") if self.default_encoding == "binary" else Log("")
        try:
            self.set_up()
            self.run()
            self.analyze()
        except TestSkip as exc:
            return self.push_skip(str(exc))
        except TestAbortWithError as exc:
            return self.push_error(str(exc))
        except TestAbortWithFailure as exc:
            return self.push_failure(str(exc))
        finally:
            self.tear_down()
        return None

    def process_may_have_timed_out(self, result: ProcessResult) -> bool:
        """Whether ``result`` looks like a command killed by its timeout."""
        if result.status != 2:
            return False
        if isinstance(result.out, str):
            return bool(TIMEOUT_OUTPUT_STR_RE.search(result.out))
        return bool(TIMEOUT_OUTPUT_BYTES_RE.search(result.out))

    def compute_failures(self) -> list[str]:
        return []

    def analyze(self) -> None:
        failures = self.compute_failures()
        if failures:
            self.push_failure(" | ".join(failures))
        else:
            self.push_success()


def _resolved(argv: list[str]) -> list[str]:
    """``argv`` with its program looked up on the testsuite's PATH, as e3's ``Run`` does.

    The command's own ``env`` may have another PATH, or none (with
    ``ignore_environ``): the program is still the one the testsuite sees.
    """
    if not argv or os.sep in argv[0]:
        return argv
    found = shutil.which(argv[0])
    return [found, *argv[1:]] if found is not None else argv


def _exact_environment(argv: list[str], env: dict[str, str] | None, ignore_environ: bool) -> list[str]:
    """``argv`` prefixed to unset what ``env`` leaves out, when it replaces the environment.

    e3suite.process adds ``env`` to the engine's environment; e3-testsuite
    passes exactly ``env`` unless ``ignore_environ`` is False.
    """
    if env is None or not ignore_environ:
        return argv
    # e3suite's process tag stays: it is how leaked descendants are found.
    removed = sorted(set(os.environ) - set(env) - {process_tree.TAG_VARIABLE})
    if not removed:
        return argv
    prefix = ["env"]
    for name in removed:
        prefix += ["-u", name]
    return [*prefix, *argv]


def _stdin_data(stdin: Any) -> str | bytes | None:
    if stdin is None or stdin == DEVNULL:
        return None
    if isinstance(stdin, bytes):
        return stdin
    if isinstance(stdin, str) and stdin.startswith("|"):
        return stdin[1:]  # e3.os.process: "|text" is the text itself, else a file name
    if isinstance(stdin, (str, Path)):
        return Path(stdin).read_bytes()
    if hasattr(stdin, "read"):
        data = stdin.read()
        return data if isinstance(data, (str, bytes)) else str(data)
    from e3suite.compat.e3testsuite.unsupported import refuse

    refuse(f"shell(stdin={stdin!r})")


def _sync_tree(source: str, target: str) -> None:
    """Make ``target`` a copy of ``source`` (e3's sync_tree with delete=True, for a fresh target)."""
    if os.path.isdir(target):
        shutil.rmtree(target)
    shutil.copytree(source, target, symlinks=True)


__all__ = [
    "ClassicTestDriver", "ProcessResult", "TestAbortWithError", "TestAbortWithFailure",
    "TestSkip", "binary_repr", "indent",
]
