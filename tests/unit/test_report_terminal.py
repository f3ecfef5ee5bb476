"""The terminal summary of ``e3suite report`` on the fixed results directories."""

from __future__ import annotations

from report_support import DATA, check_snapshot, run_report

from e3suite.reports.terminal import summary_line


def test_report_summary_snapshot() -> None:
    code, out, err = run_report(["results/new", "--no-color"], DATA)
    assert (code, err) == (0, "")
    check_snapshot("report-summary.txt", out)
    # The last line of every run, exactly.
    assert out.splitlines()[-1] == "e3suite: 6 passed, 2 failed, 2 skipped"


def test_report_all_lines_with_time_and_logs_snapshot() -> None:
    code, out, err = run_report(["results/new", "-a", "-E", "--show-time", "--no-color"], DATA)
    assert (code, err) == (0, "")
    check_snapshot("report-all-time-logs.txt", out)
    assert "FAIL   a/breaks: output differs (0.40s)\n    | running <script>" in out
    assert "slowest testcases (10 of 10):\n      3.00s perf/slow\n" in out


def test_report_parent_directory_means_new_and_compares_with_old() -> None:
    code, out, _ = run_report(["results", "--no-color"], DATA)
    assert code == 0
    assert out.startswith("compared with results/old: new failures: 1, still failing: 1, fixed: 1")


def test_report_without_comparison() -> None:
    code, out, _ = run_report(["results/new", "--no-compare", "--no-color"], DATA)
    assert code == 0
    assert "compared with" not in out
    assert out.startswith("failures:\n  FAIL   a/breaks: output differs\n")


def test_failure_exit_code_makes_a_gate() -> None:
    assert run_report(["results/new", "--failure-exit-code", "4"], DATA)[0] == 4
    assert run_report(["results/old", "--failure-exit-code", "4"], DATA)[0] == 4  # still-broken FAILs there


def test_not_a_results_directory_is_a_usage_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_report([str(tmp_path)], DATA)
    assert code == 2
    assert out == ""
    assert err == f"e3suite: error: {tmp_path} is not an e3suite results directory (no index.json, no journal.jsonl)\n"


def test_compare_with_a_missing_directory_is_a_usage_error() -> None:
    code, _, err = run_report(["results/new", "--compare", "nowhere"], DATA)
    assert code == 2
    assert err == "e3suite: error: --compare: nowhere is not a directory\n"


def test_another_tools_journal_is_not_a_results_directory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "journal.jsonl").write_text('{"ts": 1, "msg": "not e3suite"}\n')
    code, out, err = run_report([str(tmp_path)], DATA)
    # It used to read as an empty killed run: "the run did not finish", exit 0.
    assert (code, out) == (2, "")
    assert err == (
        f"e3suite: error: {tmp_path} is not an e3suite results directory (its journal has no run_started event)\n"
    )
    code, out, err = run_report(["results/new", "--compare", str(tmp_path)], DATA)
    assert (code, out) == (2, "")
    assert err.startswith(f"e3suite: error: --compare: {tmp_path} is not an e3suite results directory")


def test_summary_line_format() -> None:
    from e3suite.model import TestStatus

    assert summary_line([TestStatus.PASS, TestStatus.XFAIL, TestStatus.FAIL, TestStatus.SKIP]) == (
        "e3suite: 2 passed, 1 failed, 1 skipped"
    )
