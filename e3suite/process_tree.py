"""Process trees: find every descendant of a command, tell a leak, kill a tree.

The OS-specific half of e3suite.process (promise 3 of docs/index.md: no stray processes):
a command's descendants are found through the process tree while it lives
(psutil), through the orphans a *child subreaper* adopts (a worker calls
``become_subreaper``, so a grandchild that called ``setsid`` and outlived
its parent becomes the worker's child), and through the
``E3SUITE_PROCESS_TAG`` environment variable every command carries (which
finds them anywhere, e.g. after the worker that ran them died).

It must never start processes, print, or know about fragments: it
signals, waits for and counts processes, nothing else. The common case
(nothing left behind) costs one ``killpg(pgid, 0)`` and one read of
``/proc/<pid>/task/<pid>/children``; the psutil walks happen only on the
rare paths (a timeout, a leak found, an interruption).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil  # imported where used: 7 ms that most runs never need


#: Environment variable put in every command's environment: "<pid>:<n>" (or
#: "<pid>:" in a worker), the pid of the process that ran it.
TAG_VARIABLE = "E3SUITE_PROCESS_TAG"

_PR_SET_CHILD_SUBREAPER = 36
#: Reads of an empty /proc/PID/environ before taking it as empty (1+2+... ms apart).
_ENVIRON_RETRIES = 15

# Pids of the commands e3suite.process.run is waiting for right now (any
# thread): the leak check must never count, kill or reap one of them.
_running: set[int] = set()
_running_lock = threading.Lock()
_subreaper = False
# Children of ours that are no command's and no leak: the run's guardian (e3suite.guardian).
_helpers: set[int] = set()


def exempt_helper(pid: int) -> None:
    """``pid``, a child of ours, is never taken for a leak (the run's guardian)."""
    _helpers.add(pid)


@contextlib.contextmanager
def watching(pid: int) -> Iterator[None]:
    """While ``pid`` (a command being run) is in it, nothing here reaps it."""
    with _running_lock:
        _running.add(pid)
    try:
        yield
    finally:
        with _running_lock:
            _running.discard(pid)


def process_start(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (``/proc/PID/stat``), or None when there is no such process.

    With the pid, it names one process: a pid given again to a new process
    has another start. Counted from boot, it does not move when the wall
    clock is set (a VM resumed, NTP), as a time of day would.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return int(fields[19])  # field 22, starttime; fields[0] is field 3, the state
    except (OSError, IndexError, ValueError):
        return None


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


def terminate_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)


# -- descendants ---------------------------------------------------------------


def _own_children() -> list[int]:
    """Our direct children, from /proc (cheap: no scan of the process table)."""
    try:
        # One system call answers the common case, no child at all (the
        # command just reaped, nothing leaked): ECHILD. It reaps nothing.
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return []
    except (OSError, AttributeError):
        pass  # no waitid here: /proc tells
    pids: list[int] = []
    # Orphans are adopted by the main thread (the kernel picks the first
    # live thread of a subreaper); other threads' lists only matter when
    # there are other threads.
    pid = os.getpid()
    tids = os.listdir("/proc/self/task") if threading.active_count() > 1 else [str(pid)]
    for tid in tids:
        # os.open/os.read: 3 system calls, where open() makes 7 (it runs
        # after every fragment and every command).
        try:
            fd = os.open(f"/proc/{pid}/task/{tid}/children", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            pids.extend(int(p) for p in os.read(fd, 65536).split())
        except OSError:
            pass
        finally:
            os.close(fd)
    return pids


def _read_environ(pid: int, patient: bool) -> bytes:
    """The environment of ``pid``; ``patient``: wait out an ``execve`` in progress.

    While a process replaces its image (an orphan that is still going from
    ``setsid`` to the program it runs), the kernel shows an empty
    environment for a moment; a zombie's, or a kernel thread's, stays
    empty. Only our own children are worth the wait.
    """
    for attempt in range(_ENVIRON_RETRIES if patient else 1):
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:
            return b""
        if environ or not is_live(pid):
            return environ
        time.sleep(0.001 * (attempt + 1))
    return b""


def _process_tag(pid: int, patient: bool = False) -> str | None:
    environ = _read_environ(pid, patient)
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
        if _process_tag(pid, patient=True) == tag:
            found.append(pid)
    return found


def _reap_group(pgid: int) -> None:
    """Reap those of our children in process group ``pgid`` that have ended."""
    with contextlib.suppress(ChildProcessError, OSError):
        while os.waitid(os.P_PGID, pgid, os.WEXITED | os.WNOHANG) is not None:
            pass


def _group_has_live_member(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (its zombies do not count)."""
    if not _group_alive(pgid):
        return False
    _reap_group(pgid)
    return _group_alive(pgid) and any(is_live(p) for p in _group_members(pgid))


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: How long what a command left behind may take to end on its own before
#: it counts as a leak (as cargo-nextest's leak timeout): a daemon's child
#: already in its exit, a pool's helper that leaves when its pipe closes.
LEAK_GRACE = 0.1


def reap_leftovers(pid: int, tag: str, known: set[int]) -> list[str]:
    """Kill what the command left running; describe each (``pid N (command line)``).

    ``known``: processes of its tree seen earlier (at a timeout). What ends
    on its own within ``LEAK_GRACE`` is no leak.
    """
    _reap_group(pid)  # what of its group ended on its own is no leak, and needs no scan
    orphans = _adopted_orphans(tag)
    known = {p for p in known if p != pid and is_live(p)}
    if not orphans and not known and not _group_alive(pid):
        return []  # the common case costs one killpg and one read of /proc/self
    victims = collect([pid], tag, include_roots=False) | set(orphans) | known
    victims.update(_group_members(pid))
    deadline = time.monotonic() + LEAK_GRACE
    while (victims := {p for p in victims if is_live(p)}) and time.monotonic() < deadline:
        time.sleep(0.005)
        _reap_group(pid)  # ours (as subreaper) once they end: no zombie counts
    described = [f"pid {p} ({_command_line(p)})" for p in sorted(victims)]
    if victims:
        kill_pids(victims, grace=0, tag=tag)
    return described


def group_members_of(pids: set[int], pgid: int) -> set[int]:
    """Those of ``pids`` in process group ``pgid``."""
    members = set()
    for p in pids:
        with contextlib.suppress(OSError):
            if os.getpgid(p) == pgid:
                members.add(p)
    return members


def finish_timeout(pid: int, tag: str, victims: set[int], kill_at: float | None) -> None:
    remaining = {p for p in victims | collect([], tag) | group_members_of(victims, pid) if p != pid}
    while kill_at is not None and time.monotonic() < kill_at:
        remaining = {p for p in remaining if is_live(p)}
        # kill(-group, 0) also finds the group's zombies: a grandchild that
        # sh left behind dies at once but waits for its reaper (we, as
        # subreaper, or init), and the whole grace went by.
        if not remaining and not _group_has_live_member(pid):
            return
        time.sleep(0.02)
    remaining |= _group_members(pid) if _group_alive(pid) else set()
    remaining = {p for p in remaining if p != pid and is_live(p)}
    if remaining:
        kill_pids(remaining, grace=0, tag=tag)


def _group_members(pgid: int) -> set[int]:
    import psutil
    members = set()
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid:
                members.add(proc.pid)
        except OSError:
            continue
    return members


def is_live(pid: int) -> bool:
    """True while ``pid`` runs (a zombie does not)."""
    import psutil
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def collect(roots: Iterable[int], tag: str | None, include_roots: bool = True) -> set[int]:
    """``roots`` and all their descendants, plus adopted orphans tagged ``tag``."""
    import psutil
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


def kill_pids(pids: set[int], grace: float, tag: str | None) -> None:
    import psutil
    procs = _as_processes(pids)
    if grace > 0:
        for proc in procs:
            _signal(proc, signal.SIGTERM)
        _, procs = psutil.wait_procs(procs, timeout=grace)
        # What appeared during the grace period goes too.
        more = collect([p.pid for p in procs], tag) - {p.pid for p in procs}
        procs.extend(_as_processes(more))
    for proc in procs:
        _signal(proc, signal.SIGKILL)
    _reap_own(procs)


def _as_processes(pids: Iterable[int]) -> list[psutil.Process]:
    import psutil
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.Error:
            continue
    return procs


def _signal(proc: psutil.Process, sig: int) -> None:
    import psutil
    with contextlib.suppress(psutil.Error):
        proc.send_signal(sig)


def _reap_own(procs: list[psutil.Process]) -> None:
    """Wait for killed processes that are our children (adopted), so no zombie stays."""
    import psutil
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
    pids = collect(roots, exact_tag, include_roots=include_root)
    if tag and tag.endswith(":"):
        pids.update(find_tagged(tag))
    if not pids:
        return 0
    me = os.getpid()
    terminated: set[int] = set()  # those SIGTERM ended (or that end later by SIGKILL)
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
        terminated = set(signalled)
        deadline = time.monotonic() + grace
        while signalled and time.monotonic() < deadline and not (hurry is not None and hurry()):
            signalled = {p for p in signalled if is_live(p)}
            if signalled:
                time.sleep(0.02)
        # Processes that appeared during the grace period go too.
        live_roots = [r for r in roots if is_live(r)]
        pids |= collect(live_roots, exact_tag, include_roots=include_root)
    procs = _as_processes(p for p in pids if p != me)
    for proc in procs:
        _signal(proc, signal.SIGKILL)
    _reap_own([p for p in procs if p.pid not in roots])
    # Counted whichever signal ended them: how many die of SIGTERM within
    # the grace is the machine's timing, not a figure to report.
    return len(terminated | {p.pid for p in procs})


def kill_leftover_children() -> list[str]:
    """Kill every child of ours that no command run is waiting for; describe each.

    For the end of a fragment: what a callback forked (or started with
    ``subprocess.Popen`` and never waited for), and orphans we adopted as
    subreaper, are leaks like a command's. The common case (no child at
    all) costs one read of /proc.
    """
    with _running_lock:
        running = _running | _helpers
    children = [pid for pid in _own_children() if pid not in running and is_live(pid)]
    if not children:
        return []
    described = [f"pid {pid} ({_command_line(pid)})" for pid in children]
    kill_process_tree(children, grace=0)
    for pid in children:  # ours: reap them, so that no zombie stays
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, 0)
    return described


def _command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            words = handle.read().rstrip(b"\0").split(b"\0")
    except OSError:
        return "?"
    text = " ".join(w.decode(errors="replace") for w in words)
    return text if len(text) <= 80 else text[:77] + "..."


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
        if tag is not None and tag.startswith(prefix) and is_live(int(entry)):
            found.add(int(entry))
    return found


def kill_tagged(prefix: str | tuple[str, ...], passes: int = 10) -> int:
    """Kill every process tree whose tag starts with ``prefix`` (or one of them); how many processes were killed.

    One scan of /proc is not enough: a shell caught between fork and exec
    makes a child after the scan passed. Killed processes fork no more, so
    scanning again until a scan finds nothing (at most ``passes`` times)
    catches every one.
    """
    killed = 0
    for _ in range(passes):
        found = find_tagged(prefix)
        if not found:
            break
        killed += kill_process_tree(list(found), grace=0)
    return killed
