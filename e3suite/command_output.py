"""What a command printed and how it ended: ``CommandResult``, and how logs show commands.

``e3suite.process.run`` fills a ``CommandResult`` through a ``Capture`` per
stream (head and tail kept in memory, the whole output in an unnamed file
past the cap, so that a baseline is always compared with all of it). This
module runs nothing: it holds the data, its limits, and the text the stock
drivers log for a command (``command_text``, ``transcript``).
"""

from __future__ import annotations

import shlex
import signal
import tempfile
from dataclasses import dataclass, field
from typing import IO, Any

#: Default cap of captured output, in bytes (head and tail halves kept).
DEFAULT_OUTPUT_LIMIT = 1_000_000
#: Output over the cap goes whole to an unnamed file (``CommandResult.full_output``)
#: up to this size: a baseline is compared with all of it, never with the
#: capped text. Beyond, even the file stops, and the output cannot be compared.
FULL_OUTPUT_LIMIT = 256 * 1024 * 1024
#: Cap of the output kept by ``CommandResult.to_json`` (the results record).
JSON_OUTPUT_LIMIT = 64 * 1024


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
    peak_rss: int | None = None  # bytes: its high-water mark, sampled while it runs (None: never seen)
    leaked: int = 0  # descendants still running after it exited (killed)
    leaked_processes: list[str] = field(default_factory=list)  # each "pid N (its command line)"
    error: str | None = None  # it could not be started (status 126: found but not runnable, else 127)
    cwd: str | None = None
    stderr_size: int = 0
    #: ``output`` (``stderr``) is not all the command printed: bytes were omitted
    output_capped: bool = False
    stderr_capped: bool = False
    #: the whole output when it is capped (see ``full_output``); never pickled
    output_file: IO[bytes] | None = field(default=None, repr=False, compare=False)
    stderr_file: IO[bytes] | None = field(default=None, repr=False, compare=False)
    #: stdout (+stderr when merged) as the command wrote it, with ``run(keep_bytes=True)`` and
    #: when not capped: ``output`` is UTF-8 with undecodable bytes replaced; never pickled
    output_bytes: bytes | None = field(default=None, repr=False, compare=False)

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

    def full_output(self) -> str | None:
        """Everything on stdout (+stderr when merged), however long; None when over FULL_OUTPUT_LIMIT.

        ``output`` is capped for logs and records; what is compared must be this.
        """
        return _full_text(self.output, self.output_capped, self.output_size, self.output_file)

    def full_stderr(self) -> str | None:
        """As ``full_output``, for a separate stderr."""
        if self.stderr is None:
            return None
        return _full_text(self.stderr, self.stderr_capped, self.stderr_size, self.stderr_file)

    def __getstate__(self) -> dict[str, Any]:
        # An open file does not travel (a callback may return its CommandResult).
        state = dict(self.__dict__)
        state["output_file"] = state["stderr_file"] = state["output_bytes"] = None
        return state

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
            **({"leaked_processes": self.leaked_processes} if self.leaked_processes else {}),
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
class Capture:
    """Keeps the first and last ``limit / 2`` bytes of a stream, and all of it in a file past the cap.

    The file is unnamed (O_TMPFILE) in ``spill_dir``, the command's working
    directory: on the file system the testcase was given, invisible to the
    command, gone when closed. It starts before the first byte is dropped
    from memory, so it holds every byte.
    """

    limit: int
    spill_dir: str | None = None
    head: bytearray = field(default_factory=bytearray)
    tail: bytearray = field(default_factory=bytearray)
    size: int = 0
    spill: IO[bytes] | None = None
    spill_failed: bool = False

    def add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit and not self.spill_failed:
            self._spill(data)
        half = self.limit // 2
        room = self.limit - half - len(self.head) if not self.tail else 0
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * half:  # trim rarely, not at every chunk
                del self.tail[: len(self.tail) - half]

    def _spill(self, data: bytes) -> None:
        try:
            if self.spill is None:
                # Open past this call on purpose: the CommandResult hands it to the caller.
                try:
                    self.spill = tempfile.TemporaryFile(dir=self.spill_dir)  # noqa: SIM115
                except OSError:  # a working directory we may not write to
                    self.spill = tempfile.TemporaryFile()  # noqa: SIM115
                # Nothing was dropped yet: the tail is trimmed only past limit + limit / 2.
                self.spill.write(self.head)
                self.spill.write(self.tail)
            if self.size > FULL_OUTPUT_LIMIT:
                raise OSError("over FULL_OUTPUT_LIMIT")
            self.spill.write(data)
        except OSError:  # disk full, or too much: the output cannot be compared, the command goes on
            if self.spill is not None:
                self.spill.close()
            self.spill = None
            self.spill_failed = True

    @property
    def capped(self) -> bool:
        return self.size > len(self.head) + min(len(self.tail), self.limit // 2)

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


def command_text(argv: list[str]) -> str:
    """How a command is shown in logs: the script for ``/bin/sh -c``, else shell-quoted."""
    if len(argv) == 3 and argv[:2] == ["/bin/sh", "-c"]:
        return argv[2]
    return shlex.join(argv)


def transcript(processes: list[dict[str, Any]]) -> str:
    """The commands of a record (``CommandResult.to_json``), as the stock drivers log them.

    ``$ command``, what it printed (as the record keeps it), then how it
    ended when that was no success.
    """
    parts = []
    for proc in processes:
        argv = proc.get("argv")
        parts.append(f"$ {command_text([str(a) for a in argv]) if isinstance(argv, list) else '?'}\n")
        output = proc.get("output")
        if isinstance(output, str) and output:
            parts.append(output if output.endswith("\n") else output + "\n")
        if proc.get("error"):
            parts.append(f"[cannot run: {proc['error']}]\n")
        elif proc.get("timed_out"):
            parts.append(f"[timed out after {proc.get('timeout')} s]\n")
        elif isinstance(proc.get("signal"), int):
            parts.append(f"[killed by {_signal_name(proc['signal'])}]\n")
        elif proc.get("status") not in (0, None):
            parts.append(f"[exit status {proc.get('status')}]\n")
    return "".join(parts)


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _full_text(text: str, capped: bool, size: int, spill: IO[bytes] | None) -> str | None:
    if not capped:
        return text
    if spill is None or spill.closed:
        return None
    spill.seek(0)
    data = spill.read()
    return data.decode("utf-8", errors="replace") if len(data) == size else None


def _cap_text(text: str, limit: int, size: int) -> str:
    """``text`` (``size`` bytes were produced) cut to about ``limit`` characters, head and tail kept."""
    if len(text) <= limit:
        return text
    half = limit // 2
    head, tail = text[:half], text[-half:]
    omitted = max(0, size - len(head.encode()) - len(tail.encode()))
    return head + f"\n[... {omitted} bytes omitted ...]\n" + tail
