"""Plain data of a run: verdicts, fragment states, test results, deltas.

This module is the bottom layer: it holds enums and dataclasses, converts
them to and from JSON-ready dicts, and nothing else. It must never do I/O,
start processes or import any other e3suite module.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ResultCode:
    """What a verdict means, for every report: one row of ``RESULT_CODES``.

    ``counted`` is the column of the closing line it counts in (``passed``,
    ``failed`` or ``skipped``); ``colour`` a colorama colour name for the
    terminal (``RED``, ``RED+BRIGHT``...). A new verdict is one new row.
    """

    description: str
    counted: str
    colour: str


class TestStatus(enum.Enum):
    """The verdict of a testcase: exactly one per discovered testcase (see RESULT_CODES)."""

    PASS = "PASS"
    FAIL = "FAIL"
    XFAIL = "XFAIL"
    XPASS = "XPASS"
    VERIFY = "VERIFY"
    FLAKY = "FLAKY"
    SKIP = "SKIP"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    ERROR = "ERROR"

    # Keep pytest from collecting this class when a test module imports it.
    __test__ = False

    @property
    def code(self) -> ResultCode:
        return RESULT_CODES[self]

    @property
    def is_failure(self) -> bool:
        """What makes a run fail: FAIL and ERROR (and FLAKY with ``--flaky-result fail``)."""
        return RESULT_CODES[self].counted == "failed"

    @property
    def is_skip(self) -> bool:
        return RESULT_CODES[self].counted == "skipped"

    @property
    def is_pass(self) -> bool:
        """PASS, XPASS, XFAIL, VERIFY and FLAKY count as passed in the summary (by default)."""
        return RESULT_CODES[self].counted == "passed"


#: The table every report reads. FLAKY's column follows ``--flaky-result``
#: (see ``count_flaky_as``); the others are fixed.
RESULT_CODES: dict[TestStatus, ResultCode] = {
    TestStatus.PASS: ResultCode("the test passed", "passed", "GREEN"),
    TestStatus.FAIL: ResultCode("the test failed", "failed", "RED"),
    TestStatus.XFAIL: ResultCode("failed, as expected", "passed", "CYAN"),
    TestStatus.XPASS: ResultCode("passed, though a failure was expected", "passed", "YELLOW"),
    TestStatus.VERIFY: ResultCode("needs a person to check its output", "passed", "YELLOW"),
    TestStatus.FLAKY: ResultCode("failed, then passed when tried again", "passed", "MAGENTA"),
    TestStatus.SKIP: ResultCode("not run", "skipped", "BLUE"),
    TestStatus.NOT_APPLICABLE: ResultCode("does not apply here", "skipped", "BLUE"),
    TestStatus.ERROR: ResultCode("could not run, or the mechanism failed", "failed", "RED+BRIGHT"),
}


def count_flaky_as(column: str) -> None:
    """``passed`` (the default) or ``failed``: the run's ``--flaky-result``, read from its index by reports."""
    if column not in ("passed", "failed"):
        raise ValueError(f"FLAKY counts as passed or failed, not {column!r}")
    code = RESULT_CODES[TestStatus.FLAKY]
    RESULT_CODES[TestStatus.FLAKY] = ResultCode(code.description, column, code.colour)


class FailureReason(enum.Enum):
    """Why a testcase failed, beyond its verdict (several may apply)."""

    CRASH = "CRASH"
    TIMEOUT = "TIMEOUT"
    MEMCHECK = "MEMCHECK"
    DIFF = "DIFF"
    LEAK = "LEAK"


class FragmentState(enum.Enum):
    """Where a fragment is in its life. Transitions only go forward.

    BLOCKED -> READY -> RUNNING -> one terminal state. A fragment that never
    runs goes straight from BLOCKED or READY to SKIPPED or ABORTED.
    """

    BLOCKED = "BLOCKED"
    READY = "READY"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"  # the callback returned
    FAILED = "FAILED"  # the callback raised, or the mechanism failed
    TIMEDOUT = "TIMEDOUT"
    ABORTED = "ABORTED"  # stopped by an interruption
    SKIPPED = "SKIPPED"  # never ran: failed dependency, failure limit, ...

    @property
    def is_terminal(self) -> bool:
        return self not in (FragmentState.BLOCKED, FragmentState.READY, FragmentState.RUNNING)


@dataclass
class VerdictCall:
    """One call to TestResult.set_status, remembered to detect double verdicts."""

    status: TestStatus
    message: str


@dataclass
class ResultDelta:
    """What one fragment changed in its testcase's result.

    Fragments may run in other processes, and two fragments of a testcase may
    run at the same time: each one works on a copy of the result and sends
    back only what it added, which the engine merges into the real result.
    """

    verdicts: list[VerdictCall] = field(default_factory=list)
    log: str = ""
    failure_reasons: list[FailureReason] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    processes: list[dict[str, Any]] = field(default_factory=list)
    out: str | None = None
    expected: str | None = None
    diff: str | None = None
    sub_results: list[TestResult] = field(default_factory=list)


@dataclass
class FragmentRecord:
    """How one fragment ran, kept in the testcase's record (for timelines)."""

    name: str
    state: FragmentState
    slot: int | None = None
    start: float | None = None
    end: float | None = None
    attempt: int = 1

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "state": self.state.value,
            "slot": self.slot,
            "start": self.start,
            "end": self.end,
        }
        if self.attempt != 1:
            data["attempt"] = self.attempt
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FragmentRecord:
        return cls(
            name=data["name"],
            state=FragmentState(data["state"]),
            slot=data.get("slot"),
            start=data.get("start"),
            end=data.get("end"),
            attempt=int(data.get("attempt") or 1),
        )


@dataclass
class Attempt:
    """One attempt of a testcase that was tried more than once (see retries)."""

    number: int  # 1 for the first
    status: TestStatus
    message: str
    duration: float
    start: float | None = None
    end: float | None = None
    log: str = ""
    failure_reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "status": self.status.value,
            "message": self.message,
            "duration": self.duration,
            "start": self.start,
            "end": self.end,
            "log": self.log,
            "failure_reasons": self.failure_reasons,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attempt:
        return cls(
            number=int(data["number"]),
            status=TestStatus(data["status"]),
            message=data.get("message") or "",
            duration=float(data.get("duration") or 0.0),
            start=data.get("start"),
            end=data.get("end"),
            log=data.get("log") or "",
            failure_reasons=list(data.get("failure_reasons") or ()),
        )


@dataclass(frozen=True)
class DependencyOutcome:
    """How a predecessor ended, as a dependant sees it (``ctx.outcomes[name]``).

    ``state`` is the fragment's (COMPLETE, FAILED, TIMEDOUT, ABORTED,
    SKIPPED); ``verdict``/``message`` its testcase's so far (None while it
    has none).
    """

    state: FragmentState
    verdict: TestStatus | None = None
    message: str = ""

    @property
    def completed(self) -> bool:
        return self.state is FragmentState.COMPLETE

    @property
    def failed(self) -> bool:
        """It did not complete, or its testcase failed (FAIL or ERROR)."""
        return not self.completed or (self.verdict is not None and self.verdict.is_failure)

    @property
    def timed_out(self) -> bool:
        return self.state is FragmentState.TIMEDOUT

    @property
    def skipped(self) -> bool:
        return self.state is FragmentState.SKIPPED


#: Verdict messages of testcases the engine never started, all ``NOT_RUN_PREFIX`` + why.
NOT_RUN_PREFIX = "not run: "
NOT_RUN_INTERRUPTED = NOT_RUN_PREFIX + "interrupted"
NOT_RUN_FAILURE_LIMIT = NOT_RUN_PREFIX + "failure limit reached"
NOT_RUN_WRITE_ERROR = NOT_RUN_PREFIX + "the results could not be written"


def time_limit_reached(max_time: float) -> str:
    """Why ``--max-time`` stopped a run (after "not run: " or "interrupted: ")."""
    return f"time limit reached (--max-time {max_time:g} s)"


def never_started(status: object, message: object) -> bool:
    """True for a verdict of a testcase the run stopped before it started (its duration says nothing)."""
    return status in (TestStatus.SKIP.value, TestStatus.ERROR.value) and str(message or "").startswith(NOT_RUN_PREFIX)


#: What a command's entry in ``TestResult.processes`` holds of its output (see release_outputs).
COMMAND_TEXTS = frozenset(("output", "stderr"))


@dataclass
class TestResult:
    """The result of one testcase, as drivers fill it and reports read it.

    Drivers call ``set_status`` once, append to ``log`` (a string: ``+=``
    works), add ``failure_reasons`` and free-form ``info`` (JSON-ready values).
    ``out``/``expected``/``diff`` hold the actual output, the expected output
    and their diff when a driver compares outputs. ``processes`` lists the
    commands run (see e3suite.process). The engine measures ``duration``.
    """

    test_id: str
    status: TestStatus | None = None
    message: str = ""
    log: str = ""
    failure_reasons: set[FailureReason] = field(default_factory=set)
    info: dict[str, Any] = field(default_factory=dict)
    out: str | None = None
    expected: str | None = None
    diff: str | None = None
    processes: list[dict[str, Any]] = field(default_factory=list)
    start: float | None = None
    end: float | None = None
    duration: float | None = None
    fragments: list[FragmentRecord] = field(default_factory=list)
    #: every attempt, when it was tried more than once (retries); else empty
    attempts: list[Attempt] = field(default_factory=list)
    #: how many attempts it was allowed (1 + its retries), when it made several
    attempts_allowed: int = 1
    #: not run by this run: its result is the previous run's (``--failed``)
    carried_over: bool = False
    #: results of their own ids that this testcase reports besides its own
    #: (``add_sub_result``); each becomes a record of its own, never part of this one
    sub_results: list[TestResult] = field(default_factory=list)
    # set_status calls made on this copy, in order (see ResultDelta).
    _verdict_calls: list[VerdictCall] = field(default_factory=list, repr=False)

    __test__ = False

    def set_status(self, status: TestStatus, message: str = "") -> None:
        """Set the verdict. Setting it twice is an error reported by the engine."""
        if not isinstance(status, TestStatus):
            raise TypeError(f"set_status expects a TestStatus, got {status!r}")
        if status is TestStatus.FLAKY:
            # Decided by the engine from the attempts (retries:), with what reports show of them.
            raise ValueError("FLAKY is the engine's verdict for a testcase that failed, then passed when retried: "
                             "set FAIL or PASS (and retries:)")
        self._verdict_calls.append(VerdictCall(status, str(message)))
        self.status = status
        self.message = str(message)

    @property
    def attempts_note(self) -> str:
        """``attempt 2 of 3 passed`` (FLAKY), ``3 attempts`` (all failed); empty when tried once."""
        if not self.attempts:
            return ""
        if self.status is TestStatus.FLAKY:
            return f"attempt {len(self.attempts)} of {self.attempts_allowed} passed"
        return f"{len(self.attempts)} attempts"

    @property
    def cpu_time(self) -> float | None:
        """CPU seconds of the commands it ran (user + system), None if it ran none."""
        times = [p["cpu"] for p in self.processes if isinstance(p.get("cpu"), (int, float))]
        return round(sum(times), 6) if times else None

    @property
    def peak_rss(self) -> int | None:
        """The largest peak resident size (bytes) among the commands it ran, None if unknown."""
        peaks = [p["peak_rss"] for p in self.processes if isinstance(p.get("peak_rss"), int)]
        return max(peaks) if peaks else None

    # -- deltas -----------------------------------------------------------

    def add_sub_result(self, name: str, status: TestStatus, message: str = "", log: str = "") -> TestResult:
        """Report a result of its own id, ``<this id>/<name>``, besides this testcase's own verdict."""
        if not isinstance(status, TestStatus):  # as set_status: here, not when the record is written
            raise TypeError(f"add_sub_result expects a TestStatus, got {status!r}")
        sub = TestResult(f"{self.test_id}/{name}", status, str(message), str(log))
        self.sub_results.append(sub)
        return sub

    def mark(self) -> tuple[int, int, dict[str, Any], int, str | None, str | None, str | None, int]:
        """A bookmark of the current content, to compute a delta later."""
        return (
            len(self.log),
            len(self._verdict_calls),
            dict(self.info),
            len(self.processes),
            self.out,
            self.expected,
            self.diff,
            len(self.sub_results),
        )

    def delta_since(
        self, mark: tuple[int, int, dict[str, Any], int, str | None, str | None, str | None, int]
    ) -> ResultDelta:
        log_len, n_verdicts, info, n_processes, out, expected, diff, n_subs = mark
        return ResultDelta(
            sub_results=list(self.sub_results[n_subs:]),
            verdicts=list(self._verdict_calls[n_verdicts:]),
            log=self.log[log_len:],
            failure_reasons=sorted(self.failure_reasons, key=lambda r: r.value),
            info={k: v for k, v in self.info.items() if k not in info or info[k] != v},
            processes=list(self.processes[n_processes:]),
            out=self.out if self.out != out else None,
            expected=self.expected if self.expected != expected else None,
            diff=self.diff if self.diff != diff else None,
        )

    def working_copy(self) -> TestResult:
        """A copy a fragment can change freely (the engine keeps the original)."""
        return TestResult(
            test_id=self.test_id,
            status=self.status,
            message=self.message,
            log=self.log,
            failure_reasons=set(self.failure_reasons),
            info=dict(self.info),
            out=self.out,
            expected=self.expected,
            diff=self.diff,
            processes=list(self.processes),
        )

    def release_outputs(self, keep_out: bool = False) -> None:
        """Drop the texts of a committed result: log, outputs, diff, commands' output.

        Once its TestFinished event was handled (its record encoded, its
        lines printed), a run keeps a finished testcase's result for the
        summary, the exit code and the comparison: verdict, message, reasons,
        info, times, fragments, each command's figures. Its texts are in its
        record (``store.load_record``); keeping them in memory too made a run
        hold every log until its end (1 GB for 1000 testcases printing 1 MB).
        ``keep_out``: keep ``out``, which ``--rewrite`` compares between the
        testcases that share a baseline.
        """
        self.log = ""
        self.expected = self.diff = None
        if not keep_out:
            self.out = None
        self.processes = [
            {k: v for k, v in p.items() if k not in COMMAND_TEXTS} if isinstance(p, dict) else p
            for p in self.processes
        ]
        for attempt in self.attempts:
            attempt.log = ""

    # -- JSON -------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.test_id,
            "status": self.status.value if self.status else None,
            "message": self.message,
            "log": self.log,
            "failure_reasons": sorted(r.value for r in self.failure_reasons),
            "info": self.info,
            "out": self.out,
            "expected": self.expected,
            "diff": self.diff,
            "processes": self.processes,
            "start": self.start,
            "end": self.end,
            "duration": self.duration,
            "fragments": [f.to_json() for f in self.fragments],
            **(
                {"attempts": [a.to_json() for a in self.attempts], "attempts_allowed": self.attempts_allowed}
                if self.attempts
                else {}
            ),
            **({"carried_over": True} if self.carried_over else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TestResult:
        status = data.get("status")
        return cls(
            test_id=data["id"],
            status=TestStatus(status) if status else None,
            message=data.get("message") or "",
            log=data.get("log") or "",
            failure_reasons={FailureReason(r) for r in data.get("failure_reasons") or ()},
            info=data.get("info") or {},
            out=data.get("out"),
            expected=data.get("expected"),
            diff=data.get("diff"),
            processes=data.get("processes") or [],
            start=data.get("start"),
            end=data.get("end"),
            duration=data.get("duration"),
            fragments=[FragmentRecord.from_json(f) for f in data.get("fragments") or ()],
            attempts=[Attempt.from_json(a) for a in data.get("attempts") or ()],
            attempts_allowed=int(data.get("attempts_allowed") or 1),
            carried_over=bool(data.get("carried_over")),
        )


def summary_counts(statuses: list[TestStatus]) -> tuple[int, int, int]:
    """(passed, failed, skipped) as the summary line counts them."""
    passed = failed = skipped = 0
    for status in statuses:
        if status.is_failure:
            failed += 1
        elif status.is_skip:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped
