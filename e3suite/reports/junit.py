"""The JUnit XML report, as Jenkins and GitLab read it.

Mapping (docs/reports.md has the full table):

- FAIL -> ``<failure>``, ERROR -> ``<error>`` (message = the verdict's
  message, body = message, failure reasons and diff);
- SKIP / NOT_APPLICABLE -> ``<skipped message="reason">``;
- XFAIL -> ``<skipped message="expected failure: ...">``;
- XPASS -> a passing testcase with the property ``verdict=XPASS`` (or a
  ``<failure>`` with ``xpass_as_failure``); VERIFY -> passing, same property;
- FLAKY -> a ``<flakyFailure>``/``<flakyError>`` per failed attempt, and
  passing unless the run had ``--flaky-result fail`` (its ``flaky_result``
  metadata): then also a ``<failure type="FLAKY">``, counted in ``failures``,
  as the summary line counts it as failed;
- every testcase carries ``verdict`` and ``failure_reason`` properties and,
  when compared with a previous run, a ``change`` property; the suite carries
  the comparison's counts and the removed testcases as properties;
- ``classname``/``name`` from the id: ``a/b/c`` -> ``a.b`` / ``c`` (CI
  tools group by classname, i.e. by directory); a run of an e3-testsuite
  testsuite (its metadata names it: ``e3_testsuite_name``) is named as
  e3-testsuite's ``--xunit-output`` names it, so that CI keeps each
  testcase's history: the testsuite's name for the suites and every
  classname, the e3 result name (``info["e3_name"]``) for the name;
- logs go to ``<system-out>``, cut to their last LOG_CHARS characters.

The XML is written by hand rather than with ElementTree: for 10,000
testcases string building is several times faster, and the only hard part,
escaping, is done here in one place. Characters XML 1.0 forbids (most
control characters, lone surrogates) are stripped, because a single one
makes the whole file unreadable to CI tools.

This module never reads the results directory: it renders a RunReport.
"""

from __future__ import annotations

import datetime
import re

from e3suite.model import TestResult, TestStatus
from e3suite.reports.data import RunReport, display_log, log_excerpt, unfinished

#: Logs in <system-out> are cut to their last this-many characters.
LOG_CHARS = 65_536
SUITE_NAME = "e3suite"

_FORBIDDEN = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
)


def xml_text(text: str) -> str:
    """``text`` as XML character data: forbidden characters stripped, markup escaped."""
    return _FORBIDDEN.sub("", text).translate(_TEXT_ESCAPES)


def xml_attr(text: str) -> str:
    """``text`` as a double-quoted attribute value (whitespace kept as references)."""
    return '"' + _FORBIDDEN.sub("", text).translate(_ATTR_ESCAPES) + '"'


def split_id(test_id: str) -> tuple[str, str]:
    """(classname, name) of a testcase id: the directory part, dotted, and the last part.

    A matrix variant's values are one part whatever they hold: ``m[p=usr/bin]``
    is named ``m[p=usr/bin]``, never split into class ``m[p=usr`` and ``bin]``.
    Every ``[...]`` is one (a value holds no bracket), not the first only: a
    directory named with brackets (``br[1]/m[p=usr/bin]``) gave class
    ``br[1].m[p=usr`` and name ``bin]``.
    """
    if "[" not in test_id:
        directory, _, name = test_id.rpartition("/")
        return (directory.replace("/", ".") if directory else SUITE_NAME), name
    parts, start, at = [], 0, 0
    while at < len(test_id):
        char = test_id[at]
        if char == "[":
            closing = test_id.find("]", at)
            at = closing if closing > 0 else at  # an unclosed "[" is a plain character
        elif char == "/":
            parts.append(test_id[start:at])
            start = at + 1
        at += 1
    name = test_id[start:]
    return (".".join(parts) if parts else SUITE_NAME), name


def e3_message(message: str | None, e3_name: str) -> str:
    """The e3-testsuite message of a result whose e3suite message is ``message``.

    A result not named after its testcase says its e3 name first on e3suite's
    lines (``t.check: msg``, or ``t.check`` alone); its message is what follows.
    """
    message = message or ""
    if message == e3_name:
        return ""
    return message.removeprefix(f"{e3_name}: ")


def testcase_names(result: TestResult, e3_suite_name: str | None) -> tuple[str, str]:
    """(classname, name) of ``result``; e3-testsuite's when the run was one of its testsuites."""
    if e3_suite_name is None:
        return split_id(result.test_id)
    e3_name = result.info.get("e3_name")
    # A testcase that pushed no result has no e3 name: e3-testsuite's default one.
    return e3_suite_name, str(e3_name) if e3_name is not None else result.test_id.replace("/", "__")


def _seconds(value: float | None) -> str:
    return f"{value or 0.0:.3f}"


def _body(result: TestResult) -> str:
    parts = [result.message] if result.message else []
    if result.failure_reasons:
        parts.append("failure reasons: " + ", ".join(sorted(r.value for r in result.failure_reasons)))
    if result.diff:
        parts.append(log_excerpt(result.diff, LOG_CHARS)[0])
    return "\n".join(parts)


def _flaky_message(result: TestResult) -> str:
    """``flaky: failed on attempt 1, passed on attempt 2``: the <failure> of a FLAKY testcase counted as failed."""
    if not result.attempts:  # a record without its attempts: say what FLAKY means
        return "flaky: failed, then passed when tried again"
    failed = [str(a.number) for a in result.attempts[:-1]]
    tries = "attempt" if len(failed) == 1 else "attempts"
    return f"flaky: failed on {tries} {', '.join(failed)}, passed on attempt {result.attempts[-1].number}"


def _is_failure(status: TestStatus, xpass_as_failure: bool, flaky_as_failure: bool) -> bool:
    """What the document shows as a <failure> (and counts in ``failures``)."""
    return (
        status is TestStatus.FAIL
        or (status is TestStatus.XPASS and xpass_as_failure)
        or (status is TestStatus.FLAKY and flaky_as_failure)
    )


def _testcase(
    result: TestResult, change: str | None, xpass_as_failure: bool, flaky_as_failure: bool, e3_suite: str | None
) -> str:
    status = result.status or TestStatus.ERROR
    classname, name = testcase_names(result, e3_suite)
    out = [f"<testcase classname={xml_attr(classname)} name={xml_attr(name)} time=\"{_seconds(result.duration)}\">"]
    if unfinished(result):  # a run still going: no verdict yet, which is no error
        state = result.message.upper()
        out.append(f'<properties><property name="verdict" value="{state}"/></properties>')
        out.append(f'<skipped message="{result.message}: the run is still going"/></testcase>')
        return "".join(out)
    props = [f'<property name="verdict" value="{status.value}"/>']
    props.extend(
        f'<property name="failure_reason" value="{r.value}"/>'
        for r in sorted(result.failure_reasons, key=lambda r: r.value)
    )
    if change:
        props.append(f'<property name="change" value="{change}"/>')
    if result.carried_over:  # --failed did not run it again: the previous run's result
        props.append('<property name="carried_over" value="true"/>')
    out.append("<properties>" + "".join(props) + "</properties>")
    e3_name = result.info.get("e3_name") if e3_suite is not None else None
    # The testcase element names a pushed result already, as e3-testsuite's report does.
    message = xml_attr(e3_message(result.message, e3_name) if isinstance(e3_name, str) else result.message)
    if status is TestStatus.FLAKY and flaky_as_failure:
        text = _flaky_message(result)
        body = "\n".join(part for part in (text, _body(result)) if part)
        out.append(f'<failure type="FLAKY" message={xml_attr(text)}>{xml_text(body)}</failure>')
    elif _is_failure(status, xpass_as_failure, flaky_as_failure):
        out.append(f'<failure type="{status.value}" message={message}>{xml_text(_body(result))}</failure>')
    elif status is TestStatus.ERROR:
        out.append(f'<error type="ERROR" message={message}>{xml_text(_body(result))}</error>')
    elif status is TestStatus.XFAIL:
        text = result.message if result.message.startswith("expected failure") else (
            f"expected failure: {result.message}" if result.message else "expected failure"
        )
        out.append(f"<skipped message={xml_attr(text)}/>")
    elif status.is_skip:
        out.append(f"<skipped message={message}/>")
    out.extend(_earlier_attempts(result))
    shown = display_log(result)
    if shown:
        log, cut = log_excerpt(shown, LOG_CHARS)
        if cut:
            log = f"[log cut to its last {len(log)} characters]\n" + log
        out.append(f"<system-out>{xml_text(log)}</system-out>")
    out.append("</testcase>")
    return "".join(out)


def _earlier_attempts(result: TestResult) -> list[str]:
    """Surefire's elements for the attempts before the last: flaky*, or rerun* when it kept failing."""
    kind = "flaky" if result.status is TestStatus.FLAKY else "rerun"
    elements = []
    for attempt in result.attempts[:-1]:
        name = kind + ("Error" if attempt.status is TestStatus.ERROR else "Failure")
        trace = f"attempt {attempt.number}: {attempt.status.value}: {attempt.message}"
        body = f"<stackTrace>{xml_text(trace)}</stackTrace>"
        if attempt.log:
            log, _ = log_excerpt(attempt.log, LOG_CHARS)
            body += f"<system-out>{xml_text(log)}</system-out>"
        elements.append(
            f"<{name} message={xml_attr(attempt.message)} type=\"{attempt.status.value}\""
            f" time=\"{_seconds(attempt.duration)}\">{body}</{name}>"
        )
    return elements


def render_junit(report: RunReport, xpass_as_failure: bool = False) -> str:
    """The JUnit XML document of ``report``."""
    # Every testcase the document lists, carried-over ones (--failed) too:
    # the counts must agree with its <failure>, <error> and <skipped> elements.
    statuses = [r.status for r in report.results if r.status is not None]
    # --flaky-result fail: the summary line counts FLAKY as failed, and so does
    # this document. The run's metadata says it, so a report regenerated later
    # from the results directory agrees with the run's own.
    flaky_as_failure = report.run.get("flaky_result") == "fail"
    failures = sum(1 for s in statuses if _is_failure(s, xpass_as_failure, flaky_as_failure))
    errors = sum(1 for s in statuses if s is TestStatus.ERROR)
    skipped = sum(1 for s in statuses if s.is_skip or s is TestStatus.XFAIL)
    skipped += sum(1 for r in report.results if unfinished(r))  # shown as <skipped>: no verdict yet
    total = len(report.results)
    duration = report.run.get("duration")
    time_attr = _seconds(duration if isinstance(duration, (int, float)) else sum(
        r.duration or 0.0 for r in report.results
    ))
    start = report.run.get("start")
    timestamp = (
        datetime.datetime.fromtimestamp(start, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        if isinstance(start, (int, float))
        else None
    )
    e3_suite = report.run.get("e3_testsuite_name")
    e3_suite = e3_suite if isinstance(e3_suite, str) else None
    suite_name = xml_attr(e3_suite if e3_suite is not None else SUITE_NAME)
    suite_attrs = f'name={suite_name} tests="{total}" failures="{failures}" errors="{errors}" skipped="{skipped}"'
    suite_attrs += f' time="{time_attr}"'
    if timestamp:
        suite_attrs += f' timestamp="{timestamp}"'
    host = report.run.get("host")
    if isinstance(host, str) and host:
        suite_attrs += f" hostname={xml_attr(host)}"

    props = []
    for key in ("version", "python", "jobs", "cwd"):
        value = report.run.get(key)
        if value is not None:
            props.append(f"<property name={xml_attr('e3suite.' + key)} value={xml_attr(str(value))}/>")
    props.append(f'<property name="e3suite.complete" value="{str(report.complete).lower()}"/>')
    changes: dict[str, str] = {}
    comparison = report.comparison
    if comparison is not None:
        changes = comparison.change_of()
        props.append(f"<property name=\"e3suite.compare.old_dir\" value={xml_attr(comparison.old_dir)}/>")
        for name, count in comparison.counts().items():
            props.append(f'<property name="e3suite.compare.{name}" value="{count}"/>')
        props.extend(
            f'<property name="e3suite.compare.removed_testcase" value={xml_attr(c.test_id)}/>'
            for c in comparison.removed
        )

    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<testsuites name={suite_name} tests="{total}" failures="{failures}" errors="{errors}"'
        f' time="{time_attr}">\n',
        f"<testsuite {suite_attrs}>\n",
        "<properties>" + "".join(props) + "</properties>\n",
    ]
    parts.extend(
        _testcase(r, changes.get(r.test_id), xpass_as_failure, flaky_as_failure, e3_suite) + "\n"
        for r in report.results
    )
    parts.append("</testsuite>\n</testsuites>\n")
    return "".join(parts)
