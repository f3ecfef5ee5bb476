"""Run one command for a driver: new session, capture, timeout, tree kill.

Every command a fragment starts goes through ``run`` (promise 3 of the
design: no stray processes, output pipes never block). This module owns all
the OS-specific process control of e3suite: sessions, process groups,
signals, reaping, descendants that escaped with ``setsid``.

How it stays cheap (the spawn itself is the floor, ~1 ms): ``subprocess``
without ``preexec_fn`` (vfork/posix_spawn path), a ``poll`` loop on the
output pipes and a pidfd (no thread, no selector object), ``os.wait4`` for
the exit status, CPU time and peak RSS in one system call, and a single
``killpg(pgid, 0)`` to notice descendants left in the command's group. The
expensive psutil walk of the process table only happens on the rare paths
(timeout, a leak found).

Descendants that left the group with ``setsid`` are found two ways: a
process that called ``become_subreaper`` (the local executor's workers do)
adopts every orphan of its commands, so they show up as its own children;
and every command carries ``E3SUITE_PROCESS_TAG`` in its environment, which
its descendants inherit, so ``find_tagged`` can find them anywhere (used
after a worker died).

It must never import other e3suite modules, print, or touch results: it
returns a ``CommandResult`` and the caller decides what to record.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import itertools
import os
import resource
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psutil

#: Environment variable put in every command's environment: "<pid>:<n>",
#: the pid of the process that ran ``run`` and a counter.
TAG_VARIABLE = "E3SUITE_PROCESS_TAG"

#: Default cap of captured output, in bytes (head and tail halves kept).
DEFAULT_OUTPUT_LIMIT = 1_000_000
#: Cap of the output kept by ``CommandResult.to_json`` (the results record).
JSON_OUTPUT_LIMIT = 64 * 1024

_TAG_KEY = TAG_VARIABLE.encode()
_READ_SIZE = 65536
_PR_SET_CHILD_SUBREAPER = 36

_counter = itertools.count(1)
# Pids of the commands ``run`` is waiting for right now (any thread): the
# leak check must never count, kill or reap one of them.
_running: set[int] = set()
_running_lock = threading.Lock()
_subreaper = False
_environ_tag: str | None = None  # see tag_environment


@dataclass
class CommandResult:
    """How a command ended and what it printed."""

    argv: list[str]
    status: int | None  # exit status; None when a signal ended it
    signal: int | None  # the signal that ended it, if any
    timed_out: bool
    timeout: float | None
    output: str  # stdout+stderr merged (stdout only with merge_stderr=False), capped
    output_size: int  # bytes produced in all on that stream
    stderr: str | None = None  # only with merge_stderr=False
    wall: float = 0.0
    cpu: float = 0.0
    peak_rss: int | None = None  # bytes; None when below the spawning process's own peak
    leaked: int = 0  # descendants still running after it exited (killed)
    error: str | None = None  # it could not be started (status is then 127)
    cwd: str | None = None
    stderr_size: int = 0

    @property
    def ok(self) -> bool:
        return self.status == 0 and not self.timed_out

    def describe(self) -> str:
        """One line for logs: how the command ended."""
        if self.error is not None:
            return f"cannot run: {self.error}"
        if self.timed_out:
            text = f"timed out after {round(self.timeout or 0, 3)} s"
        elif self.signal is not None:
            text = f"killed by {_signal_name(self.signal)}"
        else:
            text = f"exit status {self.status}"
        if self.leaked:
            text += f"; left {self.leaked} process{'es' if self.leaked > 1 else ''} running"
        return text

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "argv": self.argv,
            "cwd": self.cwd,
            "status": self.status,
            "signal": self.signal,
            "timed_out": self.timed_out,
            "timeout": round(self.timeout, 3) if self.timeout is not None else None,
            "wall": round(self.wall, 6),
            "cpu": round(self.cpu, 6),
            "peak_rss": self.peak_rss,
            "leaked": self.leaked,
            "output": _cap_text(self.output, JSON_OUTPUT_LIMIT, self.output_size),
            "output_size": self.output_size,
        }
        if self.stderr is not None:
            data["stderr"] = _cap_text(self.stderr, JSON_OUTPUT_LIMIT, self.stderr_size)
            data["stderr_size"] = self.stderr_size
        if self.error is not None:
            data["error"] = self.error
        return data


@dataclass
class _Capture:
    """Keeps the first and last ``limit / 2`` bytes of a stream."""

    limit: int
    head: bytearray = field(default_factory=bytearray)
    tail: bytearray = field(default_factory=bytearray)
    size: int = 0

    def add(self, data: bytes) -> None:
        self.size += len(data)
        half = self.limit // 2
        room = self.limit - half - len(self.head) if not self.tail else 0
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * half:  # trim rarely, not at every chunk
                del self.tail[: len(self.tail) - half]

    def text(self) -> str:
        half = self.limit // 2
        tail = bytes(self.tail[-half:]) if half else b""
        omitted = self.size - len(self.head) - len(tail)
        if omitted <= 0:
            return (bytes(self.head) + tail).decode("utf-8", errors="replace")
        return (
            self.head.decode("utf-8", errors="replace")
            + f"\n[... {omitted} bytes omitted ...]\n"
            + tail.decode("utf-8", errors="replace")
        )


def become_subreaper() -> bool:
    """Make this process adopt the orphans of its descendants (Linux).

    Then a grandchild that called ``setsid`` and outlived its parent becomes
    our child, where the leak check and tree kills find it. Returns False
    where the kernel does not support it.
    """
    global _subreaper
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        _subreaper = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        _subreaper = False
    return _subreaper


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
) -> CommandResult:
    """Run ``cmd`` to its end and return how it ended; never raises for the command's sake.

    ``cmd`` is an argv list, or a string run by ``/bin/sh -c``. ``env`` is
    ADDED to ``os.environ``. ``timeout`` (fractional seconds) ends the whole
    tree: SIGTERM to the group, ``kill_grace`` seconds, then SIGKILL to
    every remaining descendant. Descendants left running after a normal exit
    are killed and counted in ``leaked``.
    """
    argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else [os.fspath(a) for a in cmd]
    full_env: dict[bytes, bytes] | None = None
    if not env and _environ_tag is not None and os.environ.get(TAG_VARIABLE) == _environ_tag:
        tag = _environ_tag  # already in our environment (see tag_environment)
    else:
        tag = f"{os.getpid()}:{next(_counter)}"
        # Bytes all along: Popen then has nothing to decode and re-encode.
        data = getattr(os.environ, "_data", None)  # CPython's encoded store: a C-level copy
        full_env = dict(data) if isinstance(data, dict) else dict(os.environb)
        if env:
            full_env.update((os.fsencode(k), os.fsencode(v)) for k, v in env.items())
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
        message = f"{argv[0]}: {exc.strerror or exc}"
        return CommandResult(
            argv=argv, status=127, signal=None, timed_out=False, timeout=timeout,
            output=message + "\n", output_size=len(message) + 1, error=message, cwd=cwd_text,
            wall=time.monotonic() - start,
        )
    with _running_lock:
        _running.add(proc.pid)
    try:
        return _supervise(proc, argv, tag, cwd_text, stdin, timeout, kill_grace, output_limit, start)
    finally:
        with _running_lock:
            _running.discard(proc.pid)


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
) -> CommandResult:
    pid = proc.pid
    out = _Capture(output_limit)
    err = _Capture(output_limit)
    captures: dict[int, _Capture] = {}
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
    try:
        while open_fds or not exited:
            now = time.monotonic()
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
                victims = _collect([pid], tag)
                _terminate_group(pid)
                for escaped in victims - _group_members_of(victims, pid):
                    with contextlib.suppress(OSError):
                        os.kill(escaped, signal.SIGTERM)
                kill_at = now + kill_grace
            if kill_at is not None and now >= kill_at:
                _kill_pids(victims | _collect([pid], tag), grace=0, tag=tag)
                kill_at = None
            wait_for = _next_wakeup(now, deadline if not timed_out else None, kill_at)
            if (exited and open_fds) or (pidfd < 0 and not exited):
                wait_for = 0.05 if wait_for is None else min(wait_for, 0.05)
            events = poller.poll(None if wait_for is None else max(0, int(wait_for * 1000) + 1))
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
    finally:
        if pidfd >= 0:
            os.close(pidfd)
        if not exited:  # an exception (KeyboardInterrupt) while it runs
            kill_process_tree(pid, grace=0, tag=tag)
            _wait(pid)
        proc.returncode = 0 if exited else -1  # keep Popen.__del__ quiet; we reaped it
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()
    if timed_out:
        # Part of ending the command, not a leak: what remains of the tree
        # gets the rest of the grace period, then SIGKILL.
        _finish_timeout(pid, tag, victims, kill_at)
        leaked = 0
    else:
        leaked = _reap_leftovers(pid, tag, victims)
    wall = time.monotonic() - start
    status: int | None = None
    sig: int | None = None
    if os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
    else:
        status = os.waitstatus_to_exitcode(wait_status)
    cpu = rusage.ru_utime + rusage.ru_stime if rusage is not None else 0.0
    peak: int | None = None
    # Linux folds the pre-exec image (our own, shared by vfork) into the
    # child's ru_maxrss: a value at or below our own peak says nothing.
    if rusage is not None and rusage.ru_maxrss > resource.getrusage(resource.RUSAGE_SELF).ru_maxrss:
        peak = rusage.ru_maxrss * 1024
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
        wall=wall,
        cpu=cpu,
        peak_rss=peak,
        leaked=leaked,
        cwd=cwd,
    )


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


def _terminate_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)


# -- descendants ---------------------------------------------------------------


def _own_children() -> list[int]:
    """Our direct children, from /proc (cheap: no scan of the process table)."""
    pids: list[int] = []
    # Orphans are adopted by the main thread (the kernel picks the first
    # live thread of a subreaper); other threads' lists only matter when
    # there are other threads.
    pid = os.getpid()
    tids = os.listdir("/proc/self/task") if threading.active_count() > 1 else [str(pid)]
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as handle:
                pids.extend(int(p) for p in handle.read().split())
        except OSError:
            continue
    return pids


def _process_tag(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read()
    except OSError:
        return None
    key = TAG_VARIABLE.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(key):
            return entry[len(key) :].decode(errors="replace")
    return None


def _adopted_orphans(tag: str) -> list[int]:
    """Children we adopted (as subreaper) that descend from the command tagged ``tag``."""
    if not _subreaper:
        return []
    with _running_lock:
        running = set(_running)
    found = []
    for pid in _own_children():
        if pid in running:
            continue
        if _process_tag(pid) == tag:
            found.append(pid)
    return found


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_leftovers(pid: int, tag: str, known: set[int]) -> int:
    """Kill what the command left running; return how many processes that was.

    ``known``: processes of its tree seen earlier (at a timeout).
    """
    orphans = _adopted_orphans(tag)
    known = {p for p in known if p != pid and _is_live(p)}
    if not orphans and not known and not _group_alive(pid):
        return 0  # the common case costs one killpg and one read of /proc/self
    victims = _collect([pid], tag, include_roots=False) | set(orphans) | known
    victims.update(_group_members(pid))
    victims = {p for p in victims if _is_live(p)}
    if victims:
        _kill_pids(victims, grace=0, tag=tag)
    return len(victims)


def _group_members_of(pids: set[int], pgid: int) -> set[int]:
    """Those of ``pids`` in process group ``pgid``."""
    members = set()
    for p in pids:
        with contextlib.suppress(OSError):
            if os.getpgid(p) == pgid:
                members.add(p)
    return members


def _finish_timeout(pid: int, tag: str, victims: set[int], kill_at: float | None) -> None:
    remaining = {p for p in victims | _collect([], tag) | _group_members_of(victims, pid) if p != pid}
    while kill_at is not None and time.monotonic() < kill_at:
        remaining = {p for p in remaining if _is_live(p)}
        if not remaining and not _group_alive(pid):
            return
        time.sleep(0.02)
    remaining |= _group_members(pid) if _group_alive(pid) else set()
    remaining = {p for p in remaining if p != pid and _is_live(p)}
    if remaining:
        _kill_pids(remaining, grace=0, tag=tag)


def _group_members(pgid: int) -> set[int]:
    members = set()
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid:
                members.add(proc.pid)
        except OSError:
            continue
    return members


def _is_live(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _collect(roots: Iterable[int], tag: str | None, include_roots: bool = True) -> set[int]:
    """``roots`` and all their descendants, plus adopted orphans tagged ``tag``."""
    pids: set[int] = set()
    for root in roots:
        try:
            proc = psutil.Process(root)
            if include_roots:
                pids.add(root)
            pids.update(child.pid for child in proc.children(recursive=True))
        except psutil.Error:
            continue
    if tag is not None:
        for orphan in _adopted_orphans(tag):
            pids.add(orphan)
            with contextlib.suppress(psutil.Error):
                pids.update(c.pid for c in psutil.Process(orphan).children(recursive=True))
    return pids


def _kill_pids(pids: set[int], grace: float, tag: str | None) -> None:
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.Error:
            continue
    if grace > 0:
        for proc in procs:
            _signal(proc, signal.SIGTERM)
        _, procs = psutil.wait_procs(procs, timeout=grace)
        # What appeared during the grace period goes too.
        more = _collect([p.pid for p in procs], tag) - {p.pid for p in procs}
        procs.extend(_as_processes(more))
    for proc in procs:
        _signal(proc, signal.SIGKILL)
    _reap_own(procs)


def _as_processes(pids: Iterable[int]) -> list[psutil.Process]:
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.Error:
            continue
    return procs


def _signal(proc: psutil.Process, sig: int) -> None:
    with contextlib.suppress(psutil.Error):
        proc.send_signal(sig)


def _reap_own(procs: list[psutil.Process]) -> None:
    """Wait for killed processes that are our children (adopted), so no zombie stays."""
    me = os.getpid()
    with _running_lock:
        running = set(_running)
    for proc in procs:
        try:
            if proc.ppid() == me and proc.pid not in running:
                os.waitpid(proc.pid, 0)
        except (psutil.Error, ChildProcessError, OSError):
            continue


def kill_process_tree(
    pid: int | Iterable[int],
    grace: float = 2.0,
    *,
    tag: str | None = None,
    include_root: bool = True,
    hurry: Callable[[], bool] | None = None,
) -> int:
    """End ``pid`` and every descendant; return how many processes were killed.

    SIGTERM to each process group of the tree (the commands' sessions; never
    our own group, which holds the engine and its workers), up to ``grace``
    seconds for those to end, then SIGKILL to every process that remains,
    including descendants that left the group with ``setsid`` and those that
    appeared meanwhile. ``tag`` (a value of ``TAG_VARIABLE``, or a prefix
    ending with ":") adds the processes carrying it. ``hurry()`` returning
    True cuts the grace period short (a second Ctrl-C). Roots are killed
    but not reaped: their owner waits for them.
    """
    roots = [pid] if isinstance(pid, int) else list(pid)
    exact_tag = tag if tag and not tag.endswith(":") else None
    pids = _collect(roots, exact_tag, include_roots=include_root)
    if tag and tag.endswith(":"):
        pids.update(find_tagged(tag))
    if not pids:
        return 0
    me = os.getpid()
    if grace > 0:
        own_group = os.getpgrp()
        groups: dict[int, set[int]] = {}
        for p in pids:
            with contextlib.suppress(OSError):
                groups.setdefault(os.getpgid(p), set()).add(p)
        groups.pop(own_group, None)
        signalled: set[int] = set()
        for group, members in groups.items():
            with contextlib.suppress(OSError):
                os.killpg(group, signal.SIGTERM)
                signalled |= members
        deadline = time.monotonic() + grace
        while signalled and time.monotonic() < deadline and not (hurry is not None and hurry()):
            signalled = {p for p in signalled if _is_live(p)}
            if signalled:
                time.sleep(0.02)
        # Processes that appeared during the grace period go too.
        live_roots = [r for r in roots if _is_live(r)]
        pids |= _collect(live_roots, exact_tag, include_roots=include_root)
    procs = _as_processes(p for p in pids if p != me)
    for proc in procs:
        _signal(proc, signal.SIGKILL)
    _reap_own([p for p in procs if p.pid not in roots])
    return len(procs)


def find_tagged(prefix: str | tuple[str, ...]) -> set[int]:
    """Live processes whose ``E3SUITE_PROCESS_TAG`` starts with ``prefix`` (or one of them).

    A scan of the whole process table: for rare paths only (a worker died
    and its commands were orphaned to init, the end of a run).
    """
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        tag = _process_tag(int(entry))
        if tag is not None and tag.startswith(prefix) and _is_live(int(entry)):
            found.add(int(entry))
    return found


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _cap_text(text: str, limit: int, size: int) -> str:
    """``text`` (``size`` bytes were produced) cut to about ``limit`` characters, head and tail kept."""
    if len(text) <= limit:
        return text
    half = limit // 2
    head, tail = text[:half], text[-half:]
    omitted = max(0, size - len(head.encode()) - len(tail.encode()))
    return head + f"\n[... {omitted} bytes omitted ...]\n" + tail


__all__ = [
    "DEFAULT_OUTPUT_LIMIT",
    "TAG_VARIABLE",
    "CommandResult",
    "become_subreaper",
    "find_tagged",
    "kill_process_tree",
    "run",
]
