"""Run one command for a driver: new session, capture, timeout, tree kill.

Every command a fragment starts goes through ``run`` (promise 3 of
docs/index.md: no stray processes, output pipes never block). With
``e3suite.process_tree`` (finding and killing descendants, including those
that escaped with ``setsid``), this is where all of e3suite's OS-specific
process control lives: sessions, process groups, signals, reaping.

How it stays cheap (the spawn itself is the floor, ~1 ms): ``subprocess``
without ``preexec_fn`` (vfork/posix_spawn path), the environment kept as
bytes, a ``poll`` loop on the output pipes and a pidfd (no thread, no
selector object), ``os.wait4`` for the exit status, CPU time and peak RSS
in one system call, and a leak check that costs one ``killpg(pgid, 0)``
when nothing was left behind.

It must never import e3suite modules other than ``process_tree`` and
``command_output`` (the ``CommandResult`` it returns, which the caller
records as it decides), print, or touch results.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import itertools
import math
import os
import resource
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import e3suite.process_tree as process_tree
from e3suite.command_output import (
    DEFAULT_OUTPUT_LIMIT,
    FULL_OUTPUT_LIMIT,
    Capture,
    CommandResult,
    command_text,
    transcript,
)
from e3suite.process_tree import TAG_VARIABLE, become_subreaper, find_tagged, kill_process_tree, kill_tagged

_TAG_KEY = TAG_VARIABLE.encode()
_READ_SIZE = 65536

_counter = itertools.count(1)
_environ_tag: str | None = None  # see tag_environment
_tag_scope = threading.local()  # see tag_scope


def tag_environment() -> str:
    """Put this process's tag in ``os.environ`` once, for commands run one at a time.

    For a process that runs one command at a time (a worker): commands then
    inherit the environment as it is (``env=None`` for Popen, which saves
    encoding the whole environment at every command) and all carry the tag
    "<pid>:", which still tells them from any other process's commands.
    """
    global _environ_tag
    _environ_tag = f"{os.getpid()}:"
    os.environ[TAG_VARIABLE] = _environ_tag
    return _environ_tag


@contextlib.contextmanager
def tag_scope(prefix: str) -> Iterator[None]:
    """Commands this thread runs meanwhile are tagged "<pid>:<prefix><n>".

    For a process whose threads run fragments of several runs at once (a
    Dask worker of a shared scheduler): one run's commands can then be
    found, and killed, without the others'.
    """
    _tag_scope.prefix = prefix
    try:
        yield
    finally:
        _tag_scope.prefix = ""


def run(
    cmd: list[str] | str,
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    stdin: str | bytes | None = None,
    timeout: float | None = None,
    kill_grace: float = 2.0,
    output_limit: int = DEFAULT_OUTPUT_LIMIT,
    merge_stderr: bool = True,
    keep_bytes: bool = False,
) -> CommandResult:
    """Run ``cmd`` to its end and return how it ended; never raises for the command's sake.

    ``cmd`` is an argv list, or a string run by ``/bin/sh -c``. ``env`` is
    ADDED to ``os.environ``. ``timeout`` (fractional seconds) ends the whole
    tree: SIGTERM to the group, ``kill_grace`` seconds, then SIGKILL to
    every remaining descendant. Descendants still running ``LEAK_GRACE``
    after a normal exit are killed, counted in ``leaked`` and named in
    ``leaked_processes``. A ``timeout`` that is no number of
    seconds (``"5"``, 0, ``inf``) is the caller's mistake: a ValueError
    saying so, before anything starts. ``keep_bytes`` keeps the output's
    bytes too (``output_bytes``), for callers that decode it otherwise.
    """
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf
    ):
        raise ValueError(f"timeout={timeout!r}: expected a finite number of seconds greater than 0 (None for none)")
    try:
        argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else [os.fspath(a) for a in cmd]
    except TypeError:
        raise TypeError(_not_text("cmd", cmd)) from None
    full_env: dict[bytes, bytes] | None = None
    scope = getattr(_tag_scope, "prefix", "")
    if not env and not scope and _environ_tag is not None and os.environ.get(TAG_VARIABLE) == _environ_tag:
        tag = _environ_tag  # already in our environment (see tag_environment)
    else:
        tag = f"{os.getpid()}:{scope}{next(_counter)}"
        # Bytes all along: Popen then has nothing to decode and re-encode.
        data = getattr(os.environ, "_data", None)  # CPython's encoded store: a C-level copy
        full_env = dict(data) if isinstance(data, dict) else dict(os.environb)
        if env:
            try:
                full_env.update((os.fsencode(k), os.fsencode(v)) for k, v in env.items())
            except TypeError:
                raise TypeError(_not_text("env", env)) from None
        full_env[_TAG_KEY] = tag.encode()
    search_path = os.environb.get(b"PATH") if full_env is None else full_env.get(b"PATH")
    cwd_text = os.fspath(cwd) if cwd is not None else None
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            executable=_which(argv[0], search_path),
            cwd=cwd_text,
            env=full_env,
            stdin=subprocess.PIPE if stdin is not None else _devnull(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        # The child names what failed: the working directory (chdir) or the program.
        # As a shell says it: 126 for a program found but not runnable, 127 for the rest.
        status = 127
        if cwd_text is not None and exc.filename == cwd_text:
            message = f"{argv[0]}: working directory {cwd_text}: {exc.strerror or exc}"
        else:
            message = f"{argv[0]}: {exc.strerror or exc}"
            if exc.errno in (errno.EACCES, errno.EPERM, errno.ENOEXEC, errno.EISDIR):
                status = 126
        return CommandResult(
            argv=argv, status=status, signal=None, timed_out=False, timeout=timeout,
            output=message + "\n", output_size=len(message) + 1, error=message, cwd=cwd_text,
            wall=time.monotonic() - start,
        )
    with process_tree.watching(proc.pid):
        return _supervise(proc, argv, tag, cwd_text, stdin, timeout, kill_grace, output_limit, start, keep_bytes)


def _not_text(name: str, value: Any) -> str:
    """What is wrong with a ``cmd`` or ``env`` holding something that is no string (``["echo", 3]``)."""
    if isinstance(value, Mapping):
        items = [(f"{name}[{k!r}]", v) for k, v in value.items()] + [(f"a key of {name}", k) for k in value]
    elif isinstance(value, (list, tuple)):
        items = [(f"{name}[{i}]", v) for i, v in enumerate(value)]
    else:
        return f"{name} is {value!r} ({type(value).__name__}): expected a string or a list of strings"
    for where, item in items:
        if not isinstance(item, (str, bytes, os.PathLike)):
            return f"{where} is {item!r} ({type(item).__name__}): expected a string"
    return f"{name}: expected strings"


@functools.lru_cache(maxsize=1)
def _devnull() -> int:
    """One /dev/null for every command's stdin (Popen's DEVNULL opens it each time)."""
    fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    return fd


@functools.lru_cache(maxsize=256)
def _which(program: str, path: bytes | None) -> str | None:
    """``program`` resolved in ``path`` once, not by Popen at every command."""
    if os.sep in program:
        return None  # Popen runs it as given
    found = shutil.which(program, path=os.fsdecode(path) if path is not None else os.defpath)
    return os.path.abspath(found) if found else None  # None: Popen reports the error


def _supervise(
    proc: subprocess.Popen[bytes],
    argv: list[str],
    tag: str,
    cwd: str | None,
    stdin: str | bytes | None,
    timeout: float | None,
    kill_grace: float,
    output_limit: int,
    start: float,
    keep_bytes: bool = False,
) -> CommandResult:
    pid = proc.pid
    out = Capture(output_limit, cwd)
    err = Capture(output_limit, cwd)
    captures: dict[int, Capture] = {}
    assert proc.stdout is not None
    captures[proc.stdout.fileno()] = out
    if proc.stderr is not None:
        captures[proc.stderr.fileno()] = err
    to_write = b""
    stdin_fd = -1
    if proc.stdin is not None:
        to_write = stdin.encode() if isinstance(stdin, str) else bytes(stdin or b"")
        stdin_fd = proc.stdin.fileno()
        os.set_blocking(stdin_fd, False)
        if not to_write:
            proc.stdin.close()
            stdin_fd = -1
    pidfd = _pidfd_open(pid)

    poller = select.poll()
    for fd in captures:
        poller.register(fd, select.POLLIN)
    if stdin_fd >= 0:
        poller.register(stdin_fd, select.POLLOUT)
    if pidfd >= 0:
        poller.register(pidfd, select.POLLIN)

    deadline = start + timeout if timeout is not None else None
    kill_at: float | None = None  # set once SIGTERM was sent: when SIGKILL goes
    victims: set[int] = set()  # the tree as it was at the timeout
    timed_out = False
    exited = False
    wait_status = 0
    rusage: Any = None
    exit_time: float | None = None
    open_fds = set(captures)
    # The command's own peak RSS: wait4's figure includes our image (see
    # below), so /proc's high-water mark is read while it runs, more and
    # more rarely (5 ms, 10 ms, ... then every second). Not at once: the
    # image has just been exec'd, its mark is a page or two (4096 bytes for
    # a command that then ends before the first reading, shown as 0.0 MiB).
    sampled_peak = 0
    sample_period = _FIRST_SAMPLE
    next_sample = start + sample_period
    try:
        while open_fds or not exited:
            now = time.monotonic()
            if not exited and now >= next_sample:
                sampled_peak = max(sampled_peak, _high_water(pid))
                sample_period = min(sample_period * 2, _LAST_SAMPLE)
                next_sample = now + sample_period
            if not exited and pidfd < 0:
                exited, wait_status, rusage = _try_wait(pid)
                if exited:
                    exit_time = now
            if exited and open_fds:
                # The command is gone but someone still holds its output
                # pipe: a leaked descendant. Give it a moment, then stop
                # reading: its fate is the leak check's business.
                if exit_time is None:
                    exit_time = now
                if now - exit_time > 0.2 or timed_out:
                    break
            if deadline is not None and now >= deadline and not timed_out:
                timed_out = True
                # Snapshot the tree while the command still links it: a
                # grandchild that called setsid is found through its parent.
                victims = process_tree.collect([pid], tag)
                process_tree.terminate_group(pid)
                for escaped in victims - process_tree.group_members_of(victims, pid):
                    with contextlib.suppress(OSError):
                        os.kill(escaped, signal.SIGTERM)
                kill_at = now + kill_grace
            if kill_at is not None and now >= kill_at:
                if not exited:  # not reaped yet, so the pid is still its own
                    # The command first: a shell killed after its child would
                    # exit 137 ("exit status 137") instead of dying by SIGKILL.
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                process_tree.kill_pids(victims | process_tree.collect([pid], tag), grace=0, tag=tag)
                kill_at = None
            wait_for = _next_wakeup(now, deadline if not timed_out else None, kill_at, None if exited else next_sample)
            if (exited and open_fds) or (pidfd < 0 and not exited):
                wait_for = 0.05 if wait_for is None else min(wait_for, 0.05)
            # poll() takes a C int of milliseconds (24.8 days at most): a longer
            # timeout (timeout: 1.0e+9) wakes up once a day for nothing.
            events = poller.poll(None if wait_for is None else max(0, int(min(wait_for, 86400.0) * 1000) + 1))
            # Its exit in the same batch: a zombie has no memory left to sample.
            exiting = exited or any(fd == pidfd for fd, _ in events)
            for fd, event in events:
                if fd == pidfd:
                    poller.unregister(pidfd)
                    os.close(pidfd)
                    pidfd = -1
                    exited, wait_status, rusage = _wait(pid)
                    exit_time = time.monotonic()
                elif fd == stdin_fd:
                    to_write = _feed(stdin_fd, to_write)
                    if not to_write or event & (select.POLLERR | select.POLLHUP):
                        poller.unregister(stdin_fd)
                        assert proc.stdin is not None
                        proc.stdin.close()
                        stdin_fd = -1
                elif fd in open_fds:
                    data = os.read(fd, _READ_SIZE) if event & (select.POLLIN | select.POLLHUP) else b""
                    if data:
                        captures[fd].add(data)
                    else:
                        poller.unregister(fd)
                        open_fds.discard(fd)
                        if not exiting:  # often the command closing it as it exits: a last look
                            sampled_peak = max(sampled_peak, _high_water(pid))
    finally:
        if pidfd >= 0:
            os.close(pidfd)
        if not exited:  # an exception (KeyboardInterrupt) while it runs
            process_tree.kill_process_tree(pid, grace=0, tag=tag)
            _wait(pid)
        proc.returncode = 0 if exited else -1  # keep Popen.__del__ quiet; we reaped it
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()
    if timed_out:
        # Part of ending the command, not a leak: what remains of the tree
        # gets the rest of the grace period, then SIGKILL.
        process_tree.finish_timeout(pid, tag, victims, kill_at)
        leaked: list[str] = []
    else:
        leaked = process_tree.reap_leftovers(pid, tag, victims)
    wall = time.monotonic() - start
    status: int | None = None
    sig: int | None = None
    if os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
    else:
        status = os.waitstatus_to_exitcode(wait_status)
    cpu = rusage.ru_utime + rusage.ru_stime if rusage is not None else 0.0
    peak: int | None = sampled_peak or None
    # Linux folds the pre-exec image (our own, shared by vfork) into the
    # child's ru_maxrss: a value at or below our own peak says nothing, one
    # above it is the command's own, exact where sampling may miss a peak.
    if rusage is not None and rusage.ru_maxrss > resource.getrusage(resource.RUSAGE_SELF).ru_maxrss:
        peak = max(peak or 0, rusage.ru_maxrss * 1024)
    return CommandResult(
        argv=argv,
        status=status,
        signal=sig,
        timed_out=timed_out,
        timeout=timeout,
        output=out.text(),
        output_size=out.size,
        stderr=err.text() if proc.stderr is not None else None,
        stderr_size=err.size,
        output_capped=out.capped,
        stderr_capped=err.capped,
        output_file=out.spill,
        stderr_file=err.spill,
        output_bytes=bytes(out.head) + bytes(out.tail) if keep_bytes and not out.capped else None,
        wall=wall,
        cpu=cpu,
        peak_rss=peak,
        leaked=len(leaked),
        leaked_processes=leaked,
        cwd=cwd,
    )


#: First and last period of the peak RSS samples of a running command (s).
_FIRST_SAMPLE = 0.005
_LAST_SAMPLE = 1.0
#: A high-water mark below this is an image the kernel has just exec'd (a page
#: or four: 4096 bytes for `true` read before it ever ran, as on a loaded
#: machine), not what any command uses: such a reading says nothing.
_MIN_PEAK = 64 * 1024


def _high_water(pid: int) -> int:
    """The peak resident size of ``pid``'s current image, in bytes (0 when unknown or gone)."""
    try:
        fd = os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        data = os.read(fd, 4096)
    except OSError:
        return 0
    finally:
        os.close(fd)
    at = data.find(b"VmHWM:")
    if at < 0:
        return 0  # a zombie: its memory is gone already
    try:
        peak = int(data[at + 6 : data.index(b"kB", at)]) * 1024
    except ValueError:
        return 0
    return peak if peak >= _MIN_PEAK else 0


def _next_wakeup(now: float, *times: float | None) -> float | None:
    pending = [t - now for t in times if t is not None]
    return max(0.0, min(pending)) if pending else None


def _feed(fd: int, data: bytes) -> bytes:
    try:
        written = os.write(fd, data[:_READ_SIZE])
    except BlockingIOError:
        return data
    except BrokenPipeError:
        return b""
    return data[written:]


def _pidfd_open(pid: int) -> int:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return -1  # old kernel: the loop polls the exit instead


def _wait(pid: int) -> tuple[bool, int, Any]:
    while True:
        try:
            _, status, rusage = os.wait4(pid, 0)
            return True, status, rusage
        except InterruptedError:
            continue
        except ChildProcessError:
            return True, 0, None


def _try_wait(pid: int) -> tuple[bool, int, Any]:
    try:
        got, status, rusage = os.wait4(pid, os.WNOHANG)
    except ChildProcessError:
        return True, 0, None
    return (got != 0), status, rusage


__all__ = [
    "DEFAULT_OUTPUT_LIMIT",
    "FULL_OUTPUT_LIMIT",
    "TAG_VARIABLE",
    "CommandResult",
    "become_subreaper",
    "command_text",
    "find_tagged",
    "kill_process_tree",
    "kill_tagged",
    "run",
    "transcript",
]
