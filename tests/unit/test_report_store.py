"""Reports from damaged results directories: a killed run, a corrupt record."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from report_support import copy_results, run_report

from e3suite import store
from e3suite.model import TestResult, TestStatus
from e3suite.reports.data import load_report

REPO = Path(__file__).resolve().parents[2]


def make_killed_run(tmp_path: Path) -> Path:
    """A results directory as a SIGKILL leaves it, staged event by event."""
    path = tmp_path / "killed"
    writer = store.ResultsWriter(path)
    writer.journal.write("run_started", start=1000.0, version="0.1.0", argv=["t.py"], cwd="/w", host="h",
                         python="3.11", jobs=2, tests_dir="/w/tests")
    for test in ("done", "record-only", "running", "pending"):
        writer.journal.write("test_discovered", test=test)
    done = TestResult("done", TestStatus.PASS, "fine")
    done.duration = 0.5
    writer.write_result(done)
    # A directory of record files (as e3suite wrote them before records went
    # in the journal), killed between writing a record and its journal line:
    record = TestResult("record-only", TestStatus.FAIL, "wrong")
    (path / store.RECORDS).mkdir()
    (path / store.RECORDS / store.record_name("record-only")).write_text(json.dumps(record.to_json()))
    writer.journal.write("fragment_started", fragment="running:run", time=1000.2)
    writer.journal.close()  # not writer.close(): a killed run never gets there
    with open(path / store.JOURNAL, "a") as f:
        f.write('{"event":"test_result","test":"pend')  # a torn last line
    return path


def test_killed_run_is_rebuilt_from_the_journal(tmp_path: Path) -> None:
    report = load_report(make_killed_run(tmp_path))
    assert not report.complete
    assert [(r.test_id, r.status, r.message) for r in report.results] == [
        ("done", TestStatus.PASS, "fine"),
        ("record-only", TestStatus.FAIL, "wrong"),
        ("running", TestStatus.ERROR, "no verdict: the run ended before this testcase finished"),
        ("pending", TestStatus.ERROR, "no verdict: the run ended before this testcase finished"),
    ]
    assert report.run["host"] == "h"


@pytest.mark.parametrize("ended", [False, True], ids=["killed", "index-lost"])
def test_a_rebuilt_index_keeps_the_order_the_run_finished_testcases_in(tmp_path: Path, ended: bool) -> None:
    """`report -a`, JSON and JUnit listed a rebuilt run in discovery order, not as the run printed it."""
    path = tmp_path / "run"
    writer = store.ResultsWriter(path)
    writer.journal.write("run_started", start=1000.0, jobs=2)
    for test in ("a", "b", "c", "d"):
        writer.journal.write("test_discovered", test=test)
    for test in ("c", "a", "d"):
        writer.write_result(TestResult(test, TestStatus.PASS))
    if ended:
        writer.journal.write("run_ended", end=1001.0, duration=1.0, interrupted=False)
    writer.journal.close()
    assert [r.test_id for r in load_report(path).results] == ["c", "a", "d", "b"]
    # A run that ended finished "b": what is lost is its journal line, not its run.
    lost = "no verdict: the journal holds no result for it" if ended else (
        "no verdict: the run ended before this testcase finished"
    )
    assert load_report(path).results[-1].message == lost


def test_report_on_a_killed_run(tmp_path: Path) -> None:
    make_killed_run(tmp_path)
    code, out, err = run_report(["killed", "--no-color"], tmp_path)
    assert (code, err) == (0, "")
    assert out == (
        "failures:\n"
        "  ERROR  pending: no verdict: the run ended before this testcase finished\n"
        "  FAIL   record-only: wrong\n"
        "  ERROR  running: no verdict: the run ended before this testcase finished\n"
        "e3suite: the run did not finish: results rebuilt from its journal\n"
        "e3suite: 1 PASS, 1 FAIL, 2 ERROR\n"
        "e3suite: 1 passed, 3 failed, 0 skipped\n"
    )


def test_corrupt_record_is_an_error_entry_and_the_rest_is_shown(tmp_path: Path) -> None:
    results = copy_results(tmp_path)
    (results / "new" / "results" / "a%2Frepaired.json").write_text('{"id": "a/repaired", "status": "PA')
    (results / "new" / "results" / "x%2Fverify.json").write_text('{"id": "x/verify", "status": "NOPE"}')
    code, out, err = run_report(["results/new", "--no-color", "--no-compare", "-a"], tmp_path)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[3].startswith("ERROR  a/repaired: unreadable result record results/a%2Frepaired.json: ")
    assert lines[8] == (
        "ERROR  x/verify: unreadable result record results/x%2Fverify.json: 'NOPE' is not a valid TestStatus"
    )
    assert "PASS   a/unchanged" in lines[0]
    assert lines[-1] == "e3suite: 4 passed, 4 failed, 2 skipped"


def test_a_record_without_a_verdict_is_an_error_every_report_counts(tmp_path: Path) -> None:
    """A record holding "status": null was a "?" line counted nowhere (exit code 0 with --failure-exit-code).

    JUnit showed it as an <error> its errors count left out; JSON as an
    ERROR its by_status left out.
    """
    results = copy_results(tmp_path)
    (results / "new" / "results" / "x%2Fverify.json").write_text('{"id": "x/verify", "status": null}')
    code, out, err = run_report(
        ["results/new", "--no-color", "--no-compare", "-a", "--junit", "r.xml", "--failure-exit-code", "3"],
        tmp_path,
    )
    assert (code, err) == (3, "")
    message = "unreadable result record results/x%2Fverify.json: it holds no verdict"
    assert f"ERROR  x/verify: {message}" in out.splitlines()
    assert out.splitlines()[-1] == "e3suite: 5 passed, 3 failed, 2 skipped"
    import junitparser

    [suite] = list(junitparser.JUnitXml.fromfile(str(tmp_path / "r.xml")))
    assert (suite.errors, suite.failures) == (2, 1)
    [case] = [c for c in suite if c.name == "verify"]
    assert [(type(r).__name__, r.message) for r in case.result] == [("Error", message)]


def test_missing_index_falls_back_on_the_journal(tmp_path: Path) -> None:
    results = copy_results(tmp_path)
    (results / "new" / "index.json").unlink()
    report = load_report(results / "new")
    assert not report.complete
    assert len(report.results) == 10
    assert report.results[1].diff is not None  # full records, not just index entries


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: {**d, "results": 5},
        lambda d: {**d, "results": [5, *d["results"][1:]]},
        lambda d: {**d, "results": [{"test": None}, *d["results"][1:]]},
        lambda d: {**d, "run": [1]},
        lambda d: [d],
    ],
    ids=["results-not-a-list", "entry-not-a-mapping", "entry-without-id", "run-not-a-mapping", "not-a-mapping"],
)
def test_an_index_damaged_by_hand_falls_back_on_the_journal(tmp_path: Path, damage: Any) -> None:
    """They gave a traceback (TypeError, AttributeError) in every report and in --failed."""
    results = copy_results(tmp_path)
    index = results / "new" / "index.json"
    index.write_text(json.dumps(damage(json.loads(index.read_text()))))
    report = load_report(results / "new")
    assert not report.complete
    assert len(report.results) == 10
    argv = [str(results / "new"), "--json", "r.json", "--junit", "r.xml", "--html", "r.html"]
    code, out, err = run_report(argv, tmp_path)
    assert code == 0, err
    # The journal says the run ended: only its index is lost, the run did finish.
    assert "e3suite: the run's index is missing or unreadable: results rebuilt from its journal" in out
    assert "did not finish" not in out


def _journal_results(path: Path) -> int:
    try:
        return sum(1 for e in store.read_journal(path) if e.get("event") == "test_result")
    except OSError:
        return 0


def test_report_after_a_real_sigkill(tmp_path: Path) -> None:
    """A real run killed with SIGKILL (engine and workers) still gives a report."""
    suite = tmp_path / "suite"
    suite.mkdir()
    shutil.copy(REPO / "drivers" / "sample_suite.py", suite / "testsuite.py")
    for name, step in (("quick", "status: PASS"), ("slow", "sleep: 60\n    status: PASS")):
        (suite / "tests" / name).mkdir(parents=True)
        (suite / "tests" / name / "test.yaml").write_text(f"fragments:\n  - name: run\n    {step}\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "testsuite.py", "-j2", "--progress", "none"], cwd=suite, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    results_dir = suite / "out" / "new"
    try:
        deadline = time.monotonic() + 60
        while _journal_results(results_dir) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _journal_results(results_dir) == 1
        group = [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # Nothing the run started survives (workers and the sleeping fragment).
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in group):
        assert time.monotonic() < deadline, "processes of the killed run survive"
        time.sleep(0.05)
    code, out, err = run_report(["out/new", "--no-color"], suite)
    assert (code, err) == (0, "")
    assert out.splitlines()[-3:] == [
        "e3suite: the run did not finish: results rebuilt from its journal",
        "e3suite: 1 PASS, 1 ERROR",
        "e3suite: 1 passed, 1 failed, 0 skipped",
    ]
    assert "ERROR  slow: no verdict: the run ended before this testcase finished" in out


def _alive(pid: int) -> bool:
    try:  # one that ends between two questions is gone
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_an_unreadable_journal_is_named_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It read as another tool's journal ("its journal has no run_started event")."""
    import builtins

    results = copy_results(tmp_path)
    (results / "new" / "index.json").unlink()
    journal = results / "new" / "journal.jsonl"
    real_open = builtins.open

    def refuse(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if Path(file) == journal:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refuse)  # as root, chmod 000 would not stop us reading
    code, _, err = run_report([str(results / "new")], tmp_path)
    assert code == 2
    assert err == f"e3suite: error: cannot read {journal}: Permission denied\n"


def test_a_report_file_is_replaced_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run killed while it wrote its JUnit file (a CI timeout) left half an XML file that CI could not parse:
    a write cut short now leaves the previous file as it was, and nothing else."""
    from e3suite.reports import command

    results = copy_results(tmp_path)
    (tmp_path / "junit.xml").write_text("<previous/>")

    def killed(*args: object) -> None:
        raise KeyboardInterrupt  # as a signal before the new file is in place

    monkeypatch.setattr(command.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        command.write_report_files(load_report(results / "new"), argparse.Namespace(junit=str(tmp_path / "junit.xml")))
    monkeypatch.undo()
    assert (tmp_path / "junit.xml").read_text() == "<previous/>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junit.xml", "results"]
    link = tmp_path / "link.xml"
    link.symlink_to("junit.xml")
    command.write_report_files(load_report(results / "new"), argparse.Namespace(junit=str(link)))
    assert link.is_symlink() and (tmp_path / "junit.xml").read_text().startswith("<?xml")
