"""The log excerpts of the JSON, HTML and JUnit reports keep the end of the log, long lines included."""

from __future__ import annotations

from e3suite.model import TestResult, TestStatus
from e3suite.reports import json_report
from e3suite.reports.data import LOG_EXCERPT_CHARS, log_excerpt
from e3suite.reports.junit import LOG_CHARS, _testcase


def test_a_short_log_is_whole() -> None:
    assert log_excerpt("a\nb\n") == ("a\nb\n", False)


def test_the_cut_moves_to_a_near_line_start() -> None:
    log = "".join(f"line {i}\n" for i in range(10_000))
    tail, cut = log_excerpt(log)
    assert cut and tail.startswith("line ") and log.endswith(tail)
    assert LOG_EXCERPT_CHARS - 20 < len(tail) <= LOG_EXCERPT_CHARS


def test_a_last_line_longer_than_the_excerpt_is_kept_not_skipped() -> None:
    # What a capped 20 MB line of output looks like in a log: the excerpt
    # was "[exit status 1]\n" alone, as if the command had printed nothing.
    log = "$ make\n" + "x" * 500_000 + "\n[... 19000000 bytes omitted ...]\n" + "y" * 500_000 + "\n[exit status 1]\n"
    tail, cut = log_excerpt(log)
    assert cut and log.endswith(tail)
    assert tail.endswith("y\n[exit status 1]\n") and len(tail) == LOG_EXCERPT_CHARS
    diff = "--- expected\n+++ actual\n@@ -1 +1 @@\n-" + "a" * 40_000 + "\n+" + "b" * 40_000 + "\n"
    assert log_excerpt(diff)[0] == diff[-LOG_EXCERPT_CHARS:]


def test_reports_show_the_end_of_a_long_line() -> None:
    result = TestResult("long", TestStatus.FAIL, "exit status 1 (expected 0)")
    result.log = "$ gen\n" + "z" * 200_000 + "\n[exit status 1]\n"
    entry = json_report.testcase_json(result, None)
    assert entry["log_truncated"] and entry["log"].count("z") == LOG_EXCERPT_CHARS - len("\n[exit status 1]\n")
    junit = _testcase(result, None, False, False, None)
    assert junit.count("z") == LOG_CHARS - len("\n[exit status 1]\n")
