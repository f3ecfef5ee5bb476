"""Reports of a run that is still going: running and waiting testcases are neither errors nor failures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import junitparser
import xmlschema
from report_support import DATA

from e3suite import store
from e3suite.model import TestResult, TestStatus
from e3suite.reports.data import load_report
from e3suite.reports.json_report import SCHEMA, report_document
from e3suite.reports.junit import render_junit


def make_run(path: Path, start: float, tests: dict[str, TestStatus], live: bool) -> Path:
    """A results directory where ``tests`` finished; ``running`` and ``waiting`` did not (yet)."""
    writer = store.ResultsWriter(path)
    writer.journal.write("run_started", start=start, version="0.1.0", argv=["t.py"], cwd="/w", host="h",
                         python="3.11", jobs=2, tests_dir="/w/tests")
    for test in (*tests, "running", "waiting"):
        writer.journal.write("test_discovered", test=test)
    for test, status in tests.items():
        result = TestResult(test, status, "")
        result.duration = 0.1
        writer.write_result(result)
    writer.journal.write("fragment_started", fragment="running:run", time=start + 0.2)
    writer.journal.close()  # the run goes on: no index yet
    # This process stands for the engine: its pid lives.
    status = {"format": "e3suite-status", "version": 1, "pid": os.getpid(), "state": "running" if live else "ended"}
    (path / store.STATUS).write_text(json.dumps(status))
    return path


def test_a_live_run_reports_running_and_waiting_testcases_as_such(tmp_path: Path) -> None:
    old = make_run(tmp_path / "out" / "old", 1000.0, {"done": TestStatus.PASS, "running": TestStatus.PASS,
                                                      "waiting": TestStatus.PASS}, live=False)
    store.ResultsWriter(old).close()  # a finished run: its index
    new = make_run(tmp_path / "out" / "new", 2000.0, {"done": TestStatus.PASS}, live=True)
    report = load_report(new, old)
    assert report.live

    # The comparison: nothing changed yet (unfinished is not a new failure, nor removed).
    assert report.comparison is not None
    assert report.comparison.counts() == dict.fromkeys(report.comparison.counts(), 0)

    document = report_document(report)
    jsonschema.validate(document, SCHEMA)
    # A run going tells itself from a killed one (both are incomplete, without an end).
    assert (document["run"]["live"], document["run"]["complete"]) == (True, False)
    assert report_document(load_report(old))["run"]["live"] is False
    by_id = {t["id"]: t for t in document["testcases"]}
    assert (by_id["running"]["status"], by_id["running"]["message"]) == (None, "running")
    assert (by_id["waiting"]["status"], by_id["waiting"]["message"]) == (None, "waiting")
    assert by_id["done"]["status"] == "PASS"
    assert document["counts"]["failed"] == 0

    target = tmp_path / "live.xml"
    target.write_text(render_junit(report), encoding="utf-8")
    xmlschema.XMLSchema(str(DATA / "junit.xsd")).validate(str(target))
    [suite] = list(junitparser.JUnitXml.fromfile(str(target)))
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (3, 0, 0, 2)
    cases = {c.name: [type(r).__name__ for r in c.result] for c in suite}
    assert cases == {"done": [], "running": ["Skipped"], "waiting": ["Skipped"]}
    text = target.read_text()
    assert '<property name="verdict" value="RUNNING"/>' in text and "ERROR" not in text


def test_the_summary_of_a_live_run_with_nothing_finished(tmp_path: Path) -> None:
    from e3suite.reports.terminal import summary_lines

    report = load_report(make_run(tmp_path / "new", 2000.0, {}, live=True))
    assert summary_lines(report.results, live=report.live) == [
        "e3suite: the run is still going: 1 testcase running, 1 waiting (e3suite status tells more)",
        "e3suite: no testcase finished yet",
        "e3suite: 0 passed, 0 failed, 0 skipped",
    ]


def test_the_still_going_line_counts_testcases_in_singular_and_plural() -> None:
    from e3suite.reports.terminal import summary_lines

    def still_going(running: int, waiting: int) -> str:
        results = [TestResult(f"r{i}", None, "running") for i in range(running)]
        results += [TestResult(f"w{i}", None, "waiting") for i in range(waiting)]
        return summary_lines(results, live=True)[0]

    tail = " (e3suite status tells more)"
    assert still_going(1, 0) == "e3suite: the run is still going: 1 testcase running, 0 waiting" + tail
    assert still_going(2, 3) == "e3suite: the run is still going: 2 testcases running, 3 waiting" + tail
    assert still_going(0, 1) == "e3suite: the run is still going: 0 testcases running, 1 waiting" + tail


def test_a_testcase_between_two_attempts_is_waiting_not_running(tmp_path: Path) -> None:
    """Waiting for its --retry-delay it runs nothing: e3suite report said RUNNING where e3suite status said waiting."""
    path = make_run(tmp_path / "new", 2000.0, {}, live=True)
    with open(path / store.JOURNAL, "a", encoding="utf-8") as journal:
        journal.write(json.dumps({"event": "fragment_started", "fragment": "waiting:run", "time": 2000.3}) + "\n")
        journal.write(json.dumps({"event": "attempt_failed", "test": "waiting", "attempt": 1, "attempts": 3}) + "\n")
    by_id = {r.test_id: r.message for r in load_report(path).results}
    assert by_id == {"running": "running", "waiting": "waiting"}
    with open(path / store.JOURNAL, "a", encoding="utf-8") as journal:
        journal.write(json.dumps({"event": "fragment_started", "fragment": "waiting:run", "time": 2003.3}) + "\n")
    assert {r.test_id: r.message for r in load_report(path).results}["waiting"] == "running"  # its retry runs
