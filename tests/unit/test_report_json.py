"""The JSON report: schema, snapshot, and ``--json -`` carrying only the document."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from report_support import DATA, check_snapshot, run_report

from e3suite.reports.json_report import FORMAT, SCHEMA, VERSION


def fixture_json(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    target = tmp_path / "report.json"
    code, _, err = run_report(["results/new", "--json", str(target)], DATA)
    assert code == 0, err
    return json.loads(target.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_json_snapshot_and_schema(tmp_path: Path) -> None:
    document = fixture_json(tmp_path)
    jsonschema.validate(document, SCHEMA)
    check_snapshot("report.json", json.dumps(document, indent=1, sort_keys=True) + "\n")


def test_schema_can_reject() -> None:
    document = {"format": FORMAT, "version": VERSION + 1}
    assert not jsonschema.Draft202012Validator(SCHEMA).is_valid(document)


def test_json_content(tmp_path: Path) -> None:
    document = fixture_json(tmp_path)
    assert (document["format"], document["version"]) == ("e3suite-report", 1)
    assert document["run"]["argv"] == ["./testsuite.py", "-j2"]
    assert document["run"]["complete"] is True
    assert document["counts"] == {
        "total": 10, "passed": 6, "failed": 2, "skipped": 2,
        "by_status": {"PASS": 3, "FAIL": 1, "XFAIL": 1, "XPASS": 1, "VERIFY": 1, "SKIP": 1,
                      "NOT_APPLICABLE": 1, "ERROR": 1},
    }
    by_id = {t["id"]: t for t in document["testcases"]}
    breaks = by_id["a/breaks"]
    assert breaks["failure_reasons"] == ["DIFF"]
    assert breaks["change"] == "new_failures"
    assert breaks["log"].startswith("running <script>")
    assert [c["id"] for c in document["comparison"]["removed"]] == ["gone/t"]
    assert document["comparison"]["slower"][0] == {
        "id": "perf/slow", "status": "PASS", "old_status": "PASS", "message": "", "duration": 3.0,
        "old_duration": 1.0,
    }


def test_json_to_stdout_carries_only_the_document() -> None:
    code, out, err = run_report(["results/new", "--json", "-", "--no-color"], DATA)
    assert code == 0
    assert json.loads(out)["counts"]["total"] == 10
    assert err.splitlines()[-1] == "e3suite: 6 passed, 2 failed, 2 skipped"


def test_two_documents_on_stdout_are_refused() -> None:
    code, out, err = run_report(["results/new", "--json", "-", "--junit", "-"], DATA)
    assert (code, out) == (2, "")
    assert err == "e3suite: error: only one report can go to stdout, not --junit and --json\n"


def test_a_run_with_json_to_stdout(tmp_path: Path) -> None:
    """``testsuite.py --json -``: stdout is the document, the run's lines go to stderr."""
    import os
    import shutil
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    shutil.copy(repo / "drivers" / "sample_suite.py", tmp_path / "testsuite.py")
    for name, status in (("ok", "PASS"), ("bad", "FAIL")):
        (tmp_path / "tests" / name).mkdir(parents=True)
        (tmp_path / "tests" / name / "test.yaml").write_text(f"fragments:\n  - name: run\n    status: {status}\n")
    proc = subprocess.run(
        [sys.executable, "testsuite.py", "-j1", "--json", "-", "--no-color"], cwd=tmp_path, capture_output=True,
        text=True, env=dict(os.environ, PYTHONPATH=str(repo)), timeout=120,
    )
    assert proc.returncode == 1
    document = json.loads(proc.stdout)
    jsonschema.validate(document, SCHEMA)
    assert [(t["id"], t["status"]) for t in document["testcases"]] == [("bad", "FAIL"), ("ok", "PASS")]
    assert document["run"]["argv"] == ["testsuite.py", "-j1", "--json", "-", "--no-color"]
    assert proc.stderr.splitlines()[-1] == "e3suite: 1 passed, 1 failed, 0 skipped"


def test_cpu_and_peak_rss_of_a_testcase_come_from_its_commands() -> None:
    from e3suite.model import TestResult, TestStatus
    from e3suite.reports.json_report import testcase_json

    result = TestResult("a/b", TestStatus.PASS)
    result.processes = [
        {"argv": ["make"], "cpu": 1.25, "peak_rss": 3 * 2**20},
        {"argv": ["run"], "cpu": 0.5, "peak_rss": 7 * 2**20},
        {"argv": ["true"], "cpu": 0.001, "peak_rss": None},
    ]
    data = testcase_json(result, None)
    assert data["cpu"] == 1.751
    assert data["peak_rss"] == 7 * 2**20
    assert testcase_json(TestResult("c/d", TestStatus.PASS), None)["cpu"] is None


def test_a_report_file_with_nowhere_to_go_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """A typo in --junit's directory must not be found once a long run is over (nor rotate out/)."""
    from drivers_support import make_suite, run_suite

    root = make_suite(tmp_path, {"tests/t/test.yaml": "driver: shell\ncmd: [true]\n"})
    (root / "a-dir").mkdir()
    for option, target, problem in (
        ("--junit", "no-such-dir/report.xml", "no directory no-such-dir"),
        ("--html", "a-dir", "it is a directory"),
        ("--json", "testsuite.py/r.json", "testsuite.py is not a directory"),
    ):
        run = run_suite(root, option, target)
        assert run.code == 2, run.stderr
        name = option[2:]
        assert run.stderr == f"e3suite: error: cannot write the {name} report to {target} ({option}): {problem}\n"
        assert not (root / "out").exists()  # refused before the results directory was touched
    # ... but the results directory, which the run makes, is a place for them, even the first time
    run = run_suite(root, "--junit", "out/new/junit.xml", "--json", "out/run.json")
    assert run.code == 0, run.stderr
    assert (root / "out" / "new" / "junit.xml").is_file() and (root / "out" / "run.json").is_file()
    proc = run_report(["results/new", "--junit", str(tmp_path / "no-such-dir" / "r.xml")], DATA)
    assert proc[0] == 2
    assert proc[2] == (
        f"e3suite: error: cannot write the junit report to {tmp_path}/no-such-dir/r.xml (--junit): "
        f"no directory {tmp_path}/no-such-dir\n"
    )


def test_the_log_of_a_testcase_whose_driver_logged_nothing_holds_its_commands(tmp_path: Path) -> None:
    """-E and JUnit showed the commands such a driver ran; the JSON's log (and so the HTML page) was empty."""
    from e3suite.model import TestResult, TestStatus
    from e3suite.reports.data import RunReport
    from e3suite.reports.json_report import report_document

    result = TestResult("t", TestStatus.FAIL, "it failed")
    result.processes = [{"argv": ["sh", "-c", "exit 3"], "status": 3, "signal": None, "timed_out": False,
                         "timeout": None, "output": "oops\n"}]
    logged = TestResult("u", TestStatus.FAIL, "it failed", log="what the driver says\n")
    logged.processes = result.processes
    document = report_document(RunReport(tmp_path, {}, [result, logged], True))
    jsonschema.validate(document, SCHEMA)
    assert [t["log"] for t in document["testcases"]] == ["$ sh -c 'exit 3'\noops\n[exit status 3]\n",
                                                       "what the driver says\n"]
