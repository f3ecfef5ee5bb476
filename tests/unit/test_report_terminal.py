"""The terminal summary of ``e3suite report`` on the fixed results directories."""

from __future__ import annotations

import io
import json
import os

from report_support import DATA, check_snapshot, copy_results, run_report

from e3suite.model import FailureReason, TestResult, TestStatus
from e3suite.reports.terminal import TerminalReporter, summary_line, summary_lines


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


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _hostile_result() -> TestResult:
    result = TestResult("odd\nid\x1b[2J", TestStatus.FAIL, "clears\x1b[2Jthe screen\rand\nsplits")
    result.log = "$ tool\n\x1b]0;retitled\x07\x1b[31mred\x1b[0m\tand a CR\r here\n"
    result.failure_reasons.add(FailureReason.DIFF)
    return result


def test_ids_messages_and_logs_are_escaped_on_a_terminal() -> None:
    stream = _Terminal()
    reporter = TerminalReporter(stream=stream, show_error_output=True, no_color=True)
    reporter.test_finished(_hostile_result())
    assert stream.getvalue() == (
        "FAIL   odd\\nid\\x1b[2J: clears\\x1b[2Jthe screen\\rand\\nsplits\n"
        "    | $ tool\n"
        "    | \\x1b]0;retitled\\x07\\x1b[31mred\\x1b[0m\tand a CR\\r here\n"
    )


def test_off_a_terminal_logs_keep_their_bytes_but_lines_stay_lines() -> None:
    stream = io.StringIO()
    reporter = TerminalReporter(stream=stream, show_error_output=True, no_color=True)
    result = _hostile_result()
    reporter.test_finished(result)
    first, *log = stream.getvalue().splitlines(keepends=True)
    assert first == "FAIL   odd\\nid\\x1b[2J: clears\\x1b[2Jthe screen\\rand\\nsplits\n"
    assert "".join(log) == "    | $ tool\n    | \x1b]0;retitled\x07\x1b[31mred\x1b[0m\tand a CR\r here\n"
    # The summary's failure list names it on one line too.
    assert "  FAIL   odd\\nid\\x1b[2J: clears\\x1b[2Jthe screen\\rand\\nsplits" in summary_lines([result, result])


def test_lone_surrogates_never_stop_the_output_on_a_strict_stream() -> None:
    """A driver's message or log naming a file whose name is not UTF-8 (``os.listdir``'s ``\\udce9``).

    A UTF-8 locale's stdout is strict: such a character used to end the run with a traceback.
    """
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8", errors="strict")
    reporter = TerminalReporter(stream=stream, show_error_output=True, no_color=True)
    name = os.fsdecode(b"caf\xe9")
    result = TestResult("a/b", TestStatus.ERROR, f"no such file {name}")
    result.log = f"listing: {name}\n"
    reporter.test_finished(result)
    assert raw.getvalue().decode("utf-8") == (
        "ERROR  a/b: no such file caf\\udce9\n"
        "    | listing: caf\\udce9\n"
    )


def test_show_time_gives_the_cpu_and_peak_rss_of_a_testcase_commands() -> None:
    from e3suite.model import TestResult, TestStatus
    from e3suite.reports.terminal import result_line

    result = TestResult("a/b", TestStatus.PASS)
    result.duration = 0.31
    result.processes = [{"cpu": 0.12, "peak_rss": 3 * 2**20 + 2**19}, {"cpu": 0.01, "peak_rss": None}]
    assert result_line(result, show_time=True) == "PASS   a/b (0.31s, cpu 0.13s, 3.5 MiB)"
    assert result_line(result) == "PASS   a/b"


def test_the_summary_says_how_many_testcases_a_stopped_run_did_not_run() -> None:
    """With -q only "N skipped" said that a failure limit (or Ctrl-C) stopped the run; now a line says so."""
    results = [
        TestResult("a", TestStatus.FAIL, "exit status 1"),
        TestResult("b", TestStatus.SKIP, "not run: failure limit reached"),
        TestResult("c", TestStatus.SKIP, "not run: failure limit reached"),
        TestResult("d", TestStatus.SKIP, "needs a GPU"),  # a SKIP the testcase chose: not a stopped run
    ]
    lines = summary_lines(results)
    assert lines[-3:] == [
        "e3suite: 2 testcases not run: failure limit reached",
        "e3suite: 1 FAIL, 3 SKIP",
        "e3suite: 0 passed, 1 failed, 3 skipped",
    ]
    assert "not run" not in "".join(summary_lines(results[:1] + results[3:]))


def test_a_driver_that_logged_nothing_shows_the_commands_it_ran() -> None:
    """A driver of one's own running ctx.shell and logging nothing showed nothing under its FAIL, even with -E."""
    from e3suite.reports.terminal import indented_log

    result = TestResult("t", TestStatus.FAIL, "it failed")
    result.processes = [
        {"argv": ["sh", "-c", "echo something went wrong; exit 3"], "status": 3, "signal": None,
         "timed_out": False, "timeout": None, "output": "something went wrong\n"},
        {"argv": ["sleep", "60"], "status": None, "signal": 15, "timed_out": True, "timeout": 0.5, "output": ""},
        {"argv": ["true"], "status": 0, "signal": None, "timed_out": False, "timeout": None, "output": ""},
    ]
    assert indented_log(result) == (
        "    | $ sh -c 'echo something went wrong; exit 3'\n"
        "    | something went wrong\n"
        "    | [exit status 3]\n"
        "    | $ sleep 60\n"
        "    | [timed out after 0.5 s]\n"
        "    | $ true\n"
    )
    result.log = "what the driver says\n"  # a driver that logs decides what is shown
    assert indented_log(result) == "    | what the driver says\n"


def test_durations_to_stdout_is_the_document_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`--durations -` wrote a file named "-" and printed the summary on stdout, unlike --json -."""
    results = copy_results(tmp_path)
    code, out, err = run_report([str(results / "new"), "--no-color", "--durations", "-"], tmp_path)
    assert code == 0, err
    durations = json.loads(out)
    assert durations["a/unchanged"] == 0.2 and list(durations) == sorted(durations)
    assert err.splitlines()[-1].startswith("e3suite: ") and not (tmp_path / "-").exists()
    code, out, err = run_report([str(results / "new"), "--durations", "-", "--json", "-"], tmp_path)
    assert (code, out) == (2, "")
    assert err == "e3suite: error: only one report can go to stdout, not --json and --durations\n"


def test_a_report_never_replaces_a_file_of_the_results_directory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`--json out/new/index.json` (the index taken for the JSON report) replaced the index, the journal..."""
    results = copy_results(tmp_path)
    before = {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}
    for option, target in (
        ("--json", "results/new/index.json"), ("--junit", "results/new/journal.jsonl"),
        ("--html", "results/old/index.json"), ("--durations", "results/new/results/a%2Fbreaks.json"),
    ):
        code, out, err = run_report(["results", option, target], tmp_path)
        assert (code, out) == (2, ""), err
        owner = "results/" + target.split("/")[1]
        assert err == (
            f"e3suite: error: cannot write the {option[2:]} report to {target} ({option}): "
            f"it would replace a file of the results directory {owner}\n"
        )
    assert {p: p.read_bytes() for p in results.rglob("*") if p.is_file()} == before
    assert run_report(["results", "--json", "results/new/report.json"], tmp_path)[0] == 0


#: What a run killed as it started leaves: its journal created, its first line not (wholly) written.
KILLED_AS_IT_STARTED = {
    b"": "its journal is empty",
    b'{"start":1796409004.6591265,"version":"0.1.0","argv":["./testsuite.py",': (
        "its journal holds only part of its first line"
    ),
}


def test_a_run_killed_as_it_started_recorded_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """It is a results directory (not "not an e3suite results directory"): of a run that recorded nothing."""
    from drivers_support import make_suite, run_suite

    root = make_suite(tmp_path / "suite", {"tests/a/test.yaml": "cmd: 'true'\n"})
    for n, (journal, how) in enumerate(KILLED_AS_IT_STARTED.items()):
        killed = tmp_path / f"killed{n}"
        (killed / "new").mkdir(parents=True)
        (killed / "new" / "journal.jsonl").write_bytes(journal)
        says = f"{killed}/new: the run recorded nothing before it stopped ({how}: killed as it started?)"
        # No report can be made of it: the error exit code, never a summary of nothing.
        code, out, err = run_report([str(killed), "--junit", str(tmp_path / "r.xml")], DATA)
        assert (code, out, err) == (2, "", f"e3suite: error: {says}\n")
        assert not (tmp_path / "r.xml").exists()
        # Nothing to compare with: refused before anything runs, as any --compare that cannot be.
        code, out, err = run_report(["results/new", "--compare", str(killed)], DATA)
        assert (code, out, err) == (2, "", f"e3suite: error: --compare: {says}: there is nothing to compare with\n")
        run = run_suite(root, "-j1", "--compare", str(killed))
        assert run.code == 2 and "Traceback" not in run.stderr, run.stderr
        assert f"e3suite: error: --compare: {says}: there is nothing to compare with\n" in run.stderr
        assert not (root / "out").exists()
    # A line of another tool without its newline is still not e3suite's.
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "journal.jsonl").write_text('{"ts": 1}')
    code, _, err = run_report([str(tmp_path / "other")], DATA)
    assert code == 2 and "is not an e3suite results directory (its journal has no run_started event)" in err


def test_a_log_or_diff_is_cut_to_its_first_and_last_lines() -> None:
    from e3suite.reports.terminal import LOG_LINE_CHARS, cut_lines

    text = "\n".join(f"line {i}" for i in range(10))
    assert cut_lines(text, 5) == text  # 10 lines: nothing to leave out
    assert cut_lines(text, 2, "diff", "e3suite report out/new -E") == (
        "line 0\nline 1\n"
        "[... 6 lines of the diff not shown (41 characters): e3suite report out/new -E prints the whole diff ...]\n"
        "line 8\nline 9"
    )
    # One line of 50 MB: its first and last characters, not all of it.
    huge = "x" * 50_000_000
    cut = cut_lines(huge, 3)
    assert cut == "x" * 3 * LOG_LINE_CHARS + (
        "\n[... 1 line of the log not shown (49998800 characters) ...]\n"
    ) + "x" * 3 * LOG_LINE_CHARS


DIFF_SUITE = """\
import sys
from e3suite import Testsuite
from e3suite.drivers import DiffDriver

class Suite(Testsuite):
    test_driver_map = {"diff": DiffDriver}
    default_driver = "diff"

if __name__ == "__main__":
    sys.exit(Suite().main())
"""


def test_a_huge_diff_does_not_flood_the_terminal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A test whose 200,000 lines of output all differ from its baseline printed some 30,000 lines under its FAIL."""
    import subprocess
    import sys

    from test_interrupt_run import REPO

    from e3suite import store

    (tmp_path / "testsuite.py").write_text(DIFF_SUITE)
    test = tmp_path / "tests" / "big"
    test.mkdir(parents=True)
    (test / "test.yaml").write_text(
        "cmd: python3 -c \"import sys; sys.stdout.write(''.join(f'actual {i}\\\\n' for i in range(200000)))\"\n"
    )
    (test / "test.out").write_text("".join(f"expected {i}\n" for i in range(200000)))

    def run(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, *args, "--no-color"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True, text=True, timeout=300,
        )
        assert proc.returncode == 1 or args[:2] == ("-m", "e3suite"), proc.stderr
        return proc.stdout + proc.stderr

    out = run("testsuite.py", "-E", "--progress", "none", "-o", "results")
    lines = out.splitlines()
    assert len(lines) < 250 and len(out) < 20_000, len(out)
    assert lines[0] == "FAIL   big: output differs from test.out"
    hint = "e3suite report results/new -E prints the whole"
    [log_cut] = [line for line in lines if " lines of the log not shown " in line]
    [diff_cut] = [line for line in lines if " lines of the diff not shown " in line]
    assert log_cut.endswith(f"{hint} log ...]") and diff_cut.endswith(f"{hint} diff ...]"), (log_cut, diff_cut)
    assert "    | --- expected" in lines and "    | -expected 0" in lines and "    | +actual 199999" in lines
    # The results directory keeps what it kept; the hint's command prints it.
    record = store.load_records(tmp_path / "results" / "new")["big"]
    assert len(record["diff"]) > 1_000_000
    whole = run("-m", "e3suite", "report", "results/new", "-E")
    assert record["diff"].rstrip("\n").split("\n")[-1] == "+actual 199999" and len(whole) > 1_000_000
    assert len(run("testsuite.py", "-E", "--progress", "none", "-o", "results", "--log-lines", "0")) > 1_000_000


def test_durations_round_before_they_split_into_minutes() -> None:
    from e3suite.reports.terminal import format_duration

    assert [format_duration(s) for s in (0.123, 59.994, 59.999, 65.34, 119.96, 3600.0)] == [
        "0.12s", "59.99s", "1m00.0s", "1m05.3s", "2m00.0s", "60m00.0s",
    ]


def test_a_slowdown_threshold_that_is_no_finite_number_is_refused() -> None:
    import argparse

    import pytest

    from e3suite.options import ratio

    for text in ("nan", "inf", "1", "0.5", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            ratio(text)
    assert ratio("2.5") == 2.5
