"""e3-testsuite's result data: TestStatus, FailureReason, Log, TestResult.

What drivers written for e3-testsuite 27.x build and push. These classes
hold data only; the bridge (``_bridge``) turns the results a testcase
pushed into e3suite's one verdict per testcase. This module must never do
I/O nor import e3suite's engine.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, AnyStr, Generic


class _Dim:
    """What DummyColors gives for every colour: nothing."""

    def __getattr__(self, name: str) -> str:
        return ""


class TestStatus(enum.Enum):
    """A result's status (same names as e3suite's verdicts)."""

    __test__ = False

    PASS = enum.auto()
    FAIL = enum.auto()
    XFAIL = enum.auto()
    XPASS = enum.auto()
    VERIFY = enum.auto()
    SKIP = enum.auto()
    NOT_APPLICABLE = enum.auto()
    ERROR = enum.auto()

    def color(self, colors: Any) -> str:
        """The ANSI colour of this status in ``colors`` (empty when disabled)."""
        fore, style = getattr(colors, "Fore", _Dim()), getattr(colors, "Style", _Dim())
        table = {
            "PASS": fore.GREEN, "FAIL": fore.RED, "XFAIL": fore.CYAN, "XPASS": fore.YELLOW,
            "VERIFY": fore.YELLOW, "SKIP": style.DIM, "NOT_APPLICABLE": style.DIM,
            "ERROR": fore.RED + style.BRIGHT,
        }
        return str(table[self.name])


class FailureReason(enum.Enum):
    """Why a testcase failed, beyond its status."""

    CRASH = enum.auto()
    TIMEOUT = enum.auto()
    MEMCHECK = enum.auto()
    DIFF = enum.auto()


class Log(Generic[AnyStr]):
    """A text or binary log that ``+=`` extends; ``str()`` gives readable text."""

    def __init__(self, content: AnyStr) -> None:
        if not isinstance(content, (str, bytes)):
            raise TypeError(f"Log content must be str or bytes, not {type(content).__name__}")
        self.log: AnyStr = content

    @property
    def is_binary(self) -> bool:
        return isinstance(self.log, bytes)

    @property
    def is_text(self) -> bool:
        return not self.is_binary

    def __iadd__(self, content: AnyStr) -> Log[AnyStr]:
        self.log += content
        return self

    def __str__(self) -> str:
        return self.log if isinstance(self.log, str) else binary_repr(self.log)

    def __repr__(self) -> str:
        return f"Log({self.log!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Log) and other.log == self.log

    __hash__ = None  # type: ignore[assignment]


def binary_repr(binary: bytes) -> str:
    r"""Printable ASCII and newlines as they are, other bytes as ``\xNN``, ``\`` doubled."""
    out: list[str] = []
    for byte in binary:
        if byte == 0x5C:
            out.append("\\\\")
        elif byte == 0x0A or 0x20 <= byte <= 0x7E:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


def truncated(output: str, line_count: int) -> str:
    """Keep the first and last ``line_count`` lines of a longer ``output`` (0: all)."""
    lines = output.splitlines()
    if line_count and len(lines) > 2 * line_count:
        skipped = len(lines) - 2 * line_count
        lines = [*lines[:line_count], f"\n... {skipped} lines skipped...\n", *lines[-line_count:]]
    return "\n".join(lines)


class TestResult:
    """One result a driver pushes: a name, a status (ERROR until set) and logs."""

    __test__ = False

    def __init__(
        self, name: str, env: dict[str, Any] | None = None, status: TestStatus | None = None, msg: str = ""
    ) -> None:
        self.test_name = name
        self.env = env
        self.status = TestStatus.ERROR if status is None else status
        self.msg: str | None = msg
        self.log: Log[Any] = Log("")
        self.processes: list[Any] = []
        self.failure_reasons: set[FailureReason] = set()
        self.expected: Log[Any] | None = None
        self.out: Log[Any] | None = None
        self.diff: Log[Any] | None = None
        self.time: float | None = None
        self.info: dict[str, str] = {}
        #: what DiffTestDriver.compute_diff appended to the log, diff by diff
        #: (cut by --truncate-logs): see _bridge._record_log
        self._logged_diffs: list[str] = []
        self._status_set = status is not None and status is not TestStatus.ERROR

    def set_status(self, status: TestStatus, msg: str | None = "") -> None:
        """Set the status; as in e3-testsuite, only an ERROR status may be changed."""
        if self.status is not TestStatus.ERROR:
            import logging

            logging.getLogger("testsuite").error("cannot set test %s status twice", self.test_name)
            return
        self.status = status
        self.msg = " ".join(line.strip() for line in msg.splitlines() if line) if msg else None

    def __str__(self) -> str:
        return f"{self.test_name:<24} {self.status!s:<12} {self.msg}"

    @property
    def summary(self) -> TestResultSummary:
        return TestResultSummary(
            self.test_name, self.status, self.msg, set(self.failure_reasons), self.time, dict(self.info)
        )


@dataclass(frozen=True)
class TestResultSummary:
    """The small part of a result kept in indexes."""

    __test__ = False

    test_name: str
    status: TestStatus
    msg: str | None
    failure_reasons: set[FailureReason] = field(default_factory=set)
    time: float | None = None
    info: dict[str, str] = field(default_factory=dict)
