"""The bridge between e3-testsuite drivers and e3suite's engine.

e3-testsuite drivers fill an ``e3.collection.dag.DAG`` with
``FragmentData`` vertices whose callbacks take ``(previous_values, slot)``
and push any number of results. e3suite runs fragments whose callbacks
take one ``FragmentContext`` and decides one verdict per testcase. This
module maps one onto the other:

- every vertex becomes an e3suite fragment whose callback is a small
  picklable ``FragmentCall`` naming the vertex; the vertex itself (driver,
  closure, lambda, bound method holding unpicklable state) stays in
  ``REGISTRY``, filled while the plan is built, before the local executor
  forks its workers, so that workers find it in their inherited memory and
  nothing but the uid crosses the pipe;
- a callback that raises pushes an ERROR result named after the fragment,
  and its exception becomes its return value, handed to dependants, as
  e3-testsuite does (the e3suite fragment itself completes);
- results pushed while a fragment runs are collected (a thread-local
  sink) and travel as return values; the testcase's verdict is decided
  once, from all of them, by its only fragment when it has no dependants,
  else by one extra fragment, ``RESULTS_FRAGMENT``, after all of them.

It never starts processes and never touches the results directory.
"""

from __future__ import annotations

import linecache
import os
import pickle
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from e3suite.model import FailureReason as E3suiteReason
from e3suite.model import TestStatus as E3suiteStatus

if TYPE_CHECKING:
    from e3suite.driver import FragmentContext

#: name of the fragment that decides a multi-fragment testcase's verdict
RESULTS_FRAGMENT = "e3suite-results"

#: severity of statuses when a testcase pushed several results: the most
#: severe one becomes the testcase's verdict (ties: the first pushed)
SEVERITY = {
    "ERROR": 7, "FAIL": 6, "XPASS": 5, "VERIFY": 4, "XFAIL": 3, "PASS": 2, "NOT_APPLICABLE": 1, "SKIP": 0,
}


class TestAbort(Exception):
    """Raise it in a fragment to end it silently (no result pushed)."""

    __test__ = False


class ExplainedError(Exception):
    """A mistake of the testsuite's that the layer names: its message is its fragment's ERROR's.

    e3-testsuite fails there too, with an exception from deep inside
    (e3's ``Run``) that only the traceback explains.
    """


@dataclass
class PushedResult:
    """A pushed e3-style result, frozen at push time (plain, picklable data)."""

    name: str
    status: str
    msg: str | None
    log: str = ""
    out: str | None = None
    expected: str | None = None
    diff: str | None = None
    failure_reasons: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)
    #: the parts of ``log`` that DiffTestDriver's diffs are (see _record_log)
    logged_diffs: tuple[str, ...] = ()
    #: what a fragment that raised raised (``RuntimeError: build broke``): the
    #: message of its e3suite result, where e3-testsuite's has none
    raised: str | None = None
    #: where it was pushed, innermost call last: (file, line, function) (see ``push_site``)
    pushed_at: tuple[tuple[str, int, str], ...] = ()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def snapshot(result: Any) -> PushedResult:
    """What e3-testsuite would save of ``result`` when it is pushed."""
    return PushedResult(
        name=str(result.test_name),
        status=result.status.name,
        msg=result.msg,
        log=str(result.log),
        out=_text(result.out),
        expected=_text(result.expected),
        diff=_text(result.diff),
        failure_reasons=tuple(sorted(r.name for r in result.failure_reasons)),
        info={str(k): v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
              for k, v in result.info.items()},
        logged_diffs=tuple(getattr(result, "_logged_diffs", ())),
        raised=getattr(result, "_raised", None),
    )


_local = threading.local()


def record_push(pushed: PushedResult) -> None:
    """Called by ``TestDriver.push_result``: into the running fragment's sink."""
    sink: list[PushedResult] | None = getattr(_local, "sink", None)
    if sink is not None:
        sink.append(pushed)


def current_context() -> FragmentContext | None:
    """The e3suite context of the fragment running in this thread, if any."""
    return getattr(_local, "ctx", None)


@dataclass
class Returned:
    """An e3 fragment's return value, with the results it pushed."""

    value: Any
    pushed: list[PushedResult]


class Unpicklable:
    """Stands for a return value that could not leave its worker process."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"<unpicklable return value: {self.text}>"


@dataclass
class Vertex:
    """What a worker needs to run one e3 fragment (kept in REGISTRY, never pickled)."""

    data: Any  # FragmentData
    test_name: str
    preds: list[tuple[str, str]]  # (key in ctx.previous, key in previous_values)
    decides: bool  # the only fragment of its testcase, and nobody depends on it


@dataclass
class TestEntry:
    test_name: str
    fragments: list[str]  # e3suite fragment names, in declaration order
    early: list[PushedResult]  # pushed before any fragment ran (in add_test)


REGISTRY: dict[str, Vertex] = {}
TESTS: dict[str, TestEntry] = {}
#: test id -> the fragments the adapter declares: (name, callback, after)
PLANNED: dict[str, list[tuple[str, Callable[..., Any], list[str]]]] = {}
_ENGINE_PID = os.getpid()


def reset() -> None:
    """Forget the previous plan (one run per process, but tests run several)."""
    global _ENGINE_PID
    REGISTRY.clear()
    TESTS.clear()
    PLANNED.clear()
    _ENGINE_PID = os.getpid()


@dataclass(frozen=True)
class FragmentCall:
    """The picklable callback of an e3 fragment: its uid."""

    uid: str

    def __call__(self, ctx: FragmentContext) -> Any:
        return run_vertex(REGISTRY[self.uid], ctx)


@dataclass(frozen=True)
class ResultsCall:
    """The picklable callback of a testcase's RESULTS_FRAGMENT."""

    test_id: str

    def __call__(self, ctx: FragmentContext) -> None:
        entry = TESTS[self.test_id]
        chunks = []  # what each fragment pushed
        for name in entry.fragments:
            value = ctx.previous.get(name)
            if isinstance(value, Returned):
                chunks.append(value.pushed)
        # add_test's results are collected with the first fragment's
        chunks = [entry.early + (chunks[0] if chunks else []), *chunks[1:]]
        decide(ctx, entry.test_name, renamed_duplicates(chunks))


def run_vertex(vertex: Vertex, ctx: FragmentContext) -> Any:
    previous = {}
    for key, e3_key in vertex.preds:
        value = ctx.previous.get(key)
        previous[e3_key] = value.value if isinstance(value, Returned) else value
    data = vertex.data
    sink: list[PushedResult] = []
    _local.sink, _local.ctx = sink, ctx
    try:
        try:
            value = data.callback(previous, ctx.slot)
        except TestAbort:
            value = None
        except Exception as exc:
            from e3suite.compat.e3testsuite.result import TestResult, TestStatus
            from e3suite.compat.e3testsuite.unsupported import Unsupported

            # A refusal says what is not supported: its message, not only the traceback's last line.
            message = str(exc) if isinstance(exc, (Unsupported, ExplainedError)) else ""
            error = TestResult(data.uid, env=data.driver.test_env, status=TestStatus.ERROR, msg=message)
            error.log += traceback.format_exc()
            error._raised = _exception_line(exc)  # type: ignore[attr-defined]
            data.driver.push_result(error)
            value = exc
    finally:
        _local.sink = _local.ctx = None
    if vertex.decides:
        decide(ctx, vertex.test_name, renamed_duplicates([TESTS[ctx.test_id].early + sink]))
        return None
    return Returned(_portable(value), sink)


#: The longest exception message a result's message gets (the log has the whole traceback).
RAISED_CHARS = 200


def _exception_line(exc: BaseException) -> str:
    """``RuntimeError: build broke``: what the last line of its traceback says, its first line, cut.

    e3-testsuite's ERROR of a fragment that raised has no message: its
    result line, the run's failure list and JUnit said ``name.build`` and
    nothing of why, unless one read the log.
    """
    text = str(exc).strip().split("\n", 1)[0]
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return line if len(line) <= RAISED_CHARS else line[: RAISED_CHARS - 3] + "..."


def _portable(value: Any) -> Any:
    """``value``, or a stand-in when it cannot be pickled back from a worker."""
    if value is None or os.getpid() == _ENGINE_PID:
        return value  # threads in the engine's process share memory
    try:
        pickle.dumps(value)
    except Exception as exc:
        return Unpicklable(f"{type(value).__name__}: {value!r:.200} ({exc})")
    return value


#: Calls kept of where a result was pushed: enough to find the driver's line.
PUSH_STACK_DEPTH = 8


def push_site(depth: int = 2) -> tuple[tuple[str, int, str], ...]:
    """Where the caller of the caller (a driver's ``push_result``) was called: (file, line, function), outer first.

    Frames are walked, not formatted (a push happens per result); the text
    is made only for a result pushed twice.
    """
    frame = sys._getframe(depth)
    site: list[tuple[str, int, str]] = []
    while frame is not None and len(site) < PUSH_STACK_DEPTH:
        site.append((frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
        frame = frame.f_back  # type: ignore[assignment]
    return tuple(reversed(site))


def _format_site(site: tuple[tuple[str, int, str], ...]) -> str:
    lines = []
    for filename, lineno, function in site:
        lines.append(f'    File "{filename}", line {lineno}, in {function}\n')
        code = linecache.getline(filename, lineno).strip()
        if code:
            lines.append(f"      {code}\n")
    return "".join(lines)


def renamed_duplicates(chunks: list[list[PushedResult]]) -> list[PushedResult]:
    """The pushed results (in push order), a name pushed again renamed as e3-testsuite's index renames it.

    e3-testsuite collects each fragment's results last pushed first; a name
    already collected becomes ``NAME__exceptN``, and a result so renamed
    that is no ERROR is replaced by an ERROR, "cannot push twice results
    for NAME": pushing twice is a bug of the driver, not a second verdict.
    """
    order = [(c, i) for c, chunk in enumerate(chunks) for i in reversed(range(len(chunk)))]
    seen: dict[str, PushedResult] = {}
    renamed: dict[tuple[int, int], PushedResult] = {}
    for c, i in order:
        pushed = chunks[c][i]
        if pushed.name in seen:
            n = 1
            while f"{pushed.name}__except{n}" in seen:
                n += 1
            name = f"{pushed.name}__except{n}"
            if pushed.status == "ERROR":
                pushed = replace(pushed, name=name)
            else:
                # Where each push happened (the bug is in one of them), as e3-testsuite logs
                # it, but saying which is which: its "first push" is the one collected first.
                log = (f"{pushed.name} was pushed twice; the result that keeps the name {pushed.name} was pushed at:\n"
                       f"{_format_site(seen[pushed.name].pushed_at)}"
                       f"\nthis one, renamed {name}, was pushed at:\n{_format_site(pushed.pushed_at)}")
                message = f"cannot push twice results for {pushed.name}"
                pushed = PushedResult(name, "ERROR", message, log=log, info=pushed.info)
        seen[pushed.name] = pushed
        renamed[(c, i)] = pushed
    return [renamed[(c, i)] for c, chunk in enumerate(chunks) for i in range(len(chunk))]


def decide(ctx: FragmentContext, test_name: str, pushed: list[PushedResult]) -> None:
    """Turn the results a testcase pushed into e3suite results.

    The result named after the testcase is its verdict (without one, the
    most severe it pushed is); every other result it pushed becomes a
    result of its own id under the testcase (``<id>/<e3 name>``), as
    e3-testsuite reports each pushed result on its own. Each carries its
    e3 name in ``info["e3_name"]``.
    """
    result = ctx.result
    if not pushed:
        # e3-testsuite reports nothing for such a testcase (a fragment that
        # only computes for others); e3suite needs a verdict that fails nothing.
        result.set_status(E3suiteStatus.NOT_APPLICABLE, "no result pushed")
        return
    main = next((p for p in pushed if p.name == test_name), None)
    chosen = main
    if chosen is None:
        chosen = pushed[0]
        for other in pushed:
            if SEVERITY[other.status] > SEVERITY[chosen.status]:
                chosen = other
    _fill(result, chosen)
    for other in pushed:
        if other is not chosen:
            message = other.msg or other.raised or ""
            sub = result.add_sub_result(_sub_name(test_name, other.name), E3suiteStatus[other.status], message)
            _fill(sub, other)
    message = chosen.msg or chosen.raised or ""
    if chosen is not main:
        message = f"{chosen.name}: {message}" if message else chosen.name
    result.set_status(E3suiteStatus[chosen.status], message)


def _fill(result: Any, pushed: PushedResult) -> None:
    """What one pushed result carries, into an e3suite result (its verdict aside)."""
    log = _record_log(pushed)
    result.log += log if not log or log.endswith("\n") else log + "\n"
    result.out, result.expected = pushed.out, pushed.expected
    # Without its last newline, the reports see a diff is in the log
    # already (a driver's own that logs it) and do not show it twice.
    result.diff = pushed.diff.rstrip("\n") if pushed.diff is not None else None
    result.failure_reasons.update(E3suiteReason[r] for r in pushed.failure_reasons)
    result.info.update(pushed.info)
    result.info["e3_name"] = pushed.name


def _record_log(pushed: PushedResult) -> str:
    """The log of the record of ``pushed``: e3-testsuite's, less the diffs the record keeps apart.

    DiffTestDriver logs each diff (cut by ``--truncate-logs``) and keeps
    them whole in ``diff`` too. Reports show a record's diff beside its log
    (the HTML report and JUnit each once more, the terminal unless the log
    holds it whole): ``-E`` printed a diff cut by ``-T`` and then whole, or
    two diffs of one result twice each, and the HTML report showed every
    diff twice. The record's log leaves them to its diff, whole, once, as
    e3suite's own DiffDriver does, and as e3-testsuite's ``-E`` shows it.
    """
    log = pushed.log
    if pushed.diff is None:
        return log
    for logged in pushed.logged_diffs:
        log = log.replace(logged, "", 1)
    return log


def _sub_name(test_name: str, name: str) -> str:
    """The part of a pushed result's name after its testcase's (``t.sub`` -> ``sub``), else the whole."""
    for sep in (".", "__", "-", "/", ":"):
        if name.startswith(test_name + sep) and len(name) > len(test_name) + len(sep):
            return name[len(test_name) + len(sep) :]
    return name
