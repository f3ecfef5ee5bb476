"""The YAML-only ``shell`` and ``diff`` test types, end to end.

One suite holds many testcases and runs once (module fixture); each test
pins what one testcase's record says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil
import pytest
from drivers_support import Run, make_suite, run_suite

FILES: dict[str, str | bytes] = {
    # -- shell ------------------------------------------------------------
    "tests/shell/true/test.yaml": "driver: shell\ncmd: [true]\n",
    "tests/shell/false/test.yaml": "driver: shell\ncmd: [false]\n",
    "tests/shell/status/test.yaml": "driver: shell\ncmd: 'exit 3'\nstatus: 3\n",
    "tests/shell/wrong-status/test.yaml": "driver: shell\ncmd: 'exit 3'\nstatus: 4\n",
    "tests/shell/timeout/test.yaml": "driver: shell\ncmd: [sleep, 29.123]\ntimeout: 0.5\n",
    "tests/shell/missing-cmd/test.yaml": "driver: shell\nstatus: 0\n",
    "tests/shell/typo/test.yaml": "driver: shell\ncmd: [true]\ntimout: 3\n",
    "tests/shell/signal/test.yaml": "driver: shell\ncmd: 'kill -9 $$'\n",
    "tests/shell/not-found/test.yaml": "driver: shell\ncmd: [no-such-command-e3suite]\n",
    "tests/shell/status-too-big/test.yaml": "driver: shell\ncmd: [true]\nstatus: 256\n",
    "tests/shell/status-negative/test.yaml": "driver: shell\ncmd: [true]\nstatus: -1\n",
    # -- diff -------------------------------------------------------------
    # items YAML reads as booleans/numbers are passed as written
    "tests/diff/source-text/test.yaml": "driver: diff\ncmd: [echo, yes, 1e3, 0x10, true, 1.50, null]\n",
    "tests/diff/source-text/test.out": "yes 1e3 0x10 true 1.50 null\n",
    # ... dates too: YAML makes a date of them, which no JSON type holds
    "tests/diff/source-date/test.yaml": (
        "driver: diff\ncmd: [echo, 2024-02-29, 2024-02-29 10:30:00]\nenv: {D: 2024-01-01}\n"
    ),
    "tests/diff/source-date/test.out": "2024-02-29 2024-02-29 10:30:00\n",
    "tests/diff/stdin-env/test.yaml": """\
        driver: diff
        cmd: 'cat; echo "$GREETING $FLAG"'
        stdin: "from stdin\\n"
        env: {GREETING: hello, FLAG: on}
        """,
    "tests/diff/stdin-env/test.out": "from stdin\nhello on\n",
    "tests/diff/pass/test.yaml": "driver: diff\ncmd: [echo, hi]\n",
    "tests/diff/pass/test.out": "hi\n",
    "tests/diff/mismatch/test.yaml": "driver: diff\ncmd: 'printf \"a\\nb\\nc\\n\"'\n",
    "tests/diff/mismatch/test.out": "a\nB\nc\n",
    "tests/diff/missing/test.yaml": "driver: diff\ncmd: [echo, new]\n",
    "tests/diff/empty-no-baseline/test.yaml": "driver: diff\ncmd: [true]\n",
    "tests/diff/required-missing/test.yaml": "driver: diff\ncmd: [true]\nbaseline: expected.txt\n",
    "tests/diff/other-baseline/test.yaml": "driver: diff\ncmd: [echo, x]\nbaseline: out/expected.txt\n",
    "tests/diff/other-baseline/out/expected.txt": "x\n",
    "tests/diff/crlf/test.yaml": "driver: diff\ncmd: 'printf \"a\\r\\nb\\r\\n\"'\n",
    "tests/diff/crlf/test.out": "a\nb\n",
    "tests/diff/refiners/test.yaml": r"""
        driver: diff
        cmd: 'echo "at $PWD: took 0.25s, id=1234"; echo "secret key"'
        refiners:
          - {path: working_dir, replace: "<WD>"}
          - {regex: '(\d+)\.\d+s', replace: 'N.NNs'}
          - {regex: 'id=(\d)\d*', replace: 'id=\1...'}
          - {substring: secret, replace: "***"}
        """,
    "tests/diff/refiners/test.out": "at <WD>: took N.NNs, id=1...\n*** key\n",
    "tests/diff/line-by-line/test.yaml": r"""
        driver: diff
        cmd: 'printf "a 1\nb 2\n"'
        refiners:
          - {regex: '^(\w) .*$', replace: '\1', line_by_line: true}
        """,
    "tests/diff/line-by-line/test.out": "a\nb\n",
    "tests/diff/refine-baseline/test.yaml": """
        driver: diff
        cmd: [echo, "version 1.2.3"]
        refiners: [{regex: '\\d+\\.\\d+\\.\\d+', replace: X.Y.Z}]
        refine_baseline: true
        """,
    "tests/diff/refine-baseline/test.out": "version 9.9.9\n",
    "tests/diff/regexp-pass/test.yaml": "driver: diff\ncmd: [echo, 'took 12 ms']\nbaseline_regexp: true\n",
    "tests/diff/regexp-pass/test.out": "took \\d+ ms\n",
    "tests/diff/regexp-fail/test.yaml": "driver: diff\ncmd: [echo, 'took many ms']\nbaseline_regexp: true\n",
    "tests/diff/regexp-fail/test.out": "took \\d+ ms\n",
    "tests/diff/regexp-bad/test.yaml": "driver: diff\ncmd: [echo, x]\nbaseline_regexp: true\n",
    "tests/diff/regexp-bad/test.out": "(unclosed\n",
    "tests/diff/binary/test.yaml": "driver: diff\ncmd: 'printf \"ok\\\\377\\\\000end\\\\n\"'\n",
    "tests/diff/binary/test.out": "ok\ufffd\x00end\n",
    "tests/diff/status-and-diff/test.yaml": "driver: diff\ncmd: 'echo out; exit 2'\n",
    "tests/diff/status-and-diff/test.out": "other\n",
    "tests/diff/no-newline/test.yaml": "driver: diff\ncmd: [printf, abc]\n",
    "tests/diff/no-newline/test.out": "abc\n",
    "tests/diff/copied/test.yaml": "driver: diff\ncmd: [cat, input.txt]\n",
    "tests/diff/copied/input.txt": "copied into the working directory\n",
    "tests/diff/copied/test.out": "copied into the working directory\n",
    "tests/diff/bad-refiner/test.yaml": "driver: diff\ncmd: [true]\nrefiners: [{regex: 'a', subst: b}]\n",
    "tests/diff/bad-regex-refiner/test.yaml": "driver: diff\ncmd: [true]\nrefiners: [{regex: '(', replace: b}]\n",
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = make_suite(tmp_path_factory.mktemp("yaml") / "suite", FILES)
    return run_suite(root, "-j2")


def result(run: Run, test_id: str) -> dict[str, Any]:
    assert test_id in run.results, run.stdout + run.stderr
    return run.results[test_id]


def verdict(run: Run, test_id: str) -> tuple[str, str]:
    data = result(run, test_id)
    return data["status"], data["message"]


@pytest.mark.parametrize(
    ("test_id", "status", "message"),
    [
        ("shell/true", "PASS", ""),
        ("shell/false", "FAIL", "exit status 1 (expected 0)"),
        ("shell/status", "PASS", ""),
        ("shell/wrong-status", "FAIL", "exit status 3 (expected 4)"),
        ("shell/timeout", "FAIL", "timed out after 0.5 s"),
        ("shell/signal", "FAIL", "kill -9 $$: killed by SIGKILL"),
        (
            "shell/not-found",
            "FAIL",
            "cannot run: no-such-command-e3suite: No such file or directory: exit status 127 (expected 0)",
        ),
        ("diff/source-text", "PASS", ""),
        ("diff/source-date", "PASS", ""),
        ("diff/stdin-env", "PASS", ""),
        ("diff/pass", "PASS", ""),
        ("diff/mismatch", "FAIL", "output differs from test.out"),
        ("diff/missing", "FAIL", "missing baseline test.out"),
        ("diff/empty-no-baseline", "PASS", ""),
        ("diff/required-missing", "FAIL", "missing baseline expected.txt"),
        ("diff/other-baseline", "PASS", ""),
        ("diff/crlf", "PASS", ""),
        ("diff/refiners", "PASS", ""),
        ("diff/line-by-line", "PASS", ""),
        ("diff/refine-baseline", "PASS", ""),
        ("diff/regexp-pass", "PASS", ""),
        ("diff/regexp-fail", "FAIL", "output differs from test.out"),
        ("diff/binary", "PASS", ""),
        ("diff/status-and-diff", "FAIL", "exit status 2 (expected 0); output differs from test.out"),
        ("diff/no-newline", "FAIL", "output differs from test.out"),
        ("diff/copied", "PASS", ""),
    ],
)
def test_verdicts(run: Run, test_id: str, status: str, message: str) -> None:
    assert verdict(run, test_id) == (status, message)


def test_errors_name_the_problem(run: Run) -> None:
    status, message = verdict(run, "shell/missing-cmd")
    assert status == "ERROR" and message.endswith("test.yaml: missing required key 'cmd'")
    status, message = verdict(run, "shell/typo")
    assert status == "ERROR" and message.endswith("test.yaml: unknown key 'timout': did you mean 'timeout'?")
    status, message = verdict(run, "shell/status-too-big")  # no exit status is 256: it could never pass
    assert status == "ERROR" and message.endswith("test.yaml: key 'status': expected a number at most 255, got 256")
    status, message = verdict(run, "shell/status-negative")
    assert status == "ERROR" and message.endswith("test.yaml: key 'status': expected a number at least 0, got -1")
    status, message = verdict(run, "diff/regexp-bad")
    assert status == "ERROR" and message.startswith("invalid regexp baseline test.out: missing ), unterminated")
    status, message = verdict(run, "diff/bad-regex-refiner")
    assert status == "ERROR" and message.endswith(
        "/tests/diff/bad-regex-refiner/test.yaml: refiner 1: invalid regex '(': missing ), unterminated subpattern "
        "at position 0"
    ) and message.startswith("/"), message
    status, message = verdict(run, "diff/bad-refiner")
    assert status == "ERROR" and "key 'refiners[0]'" in message


def test_timeout_reason_and_no_stray_process(run: Run) -> None:
    assert result(run, "shell/timeout")["failure_reasons"] == ["TIMEOUT"]
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "29.123"]]
    assert leftovers == []


def test_signal_is_a_crash(run: Run) -> None:
    assert result(run, "shell/signal")["failure_reasons"] == ["CRASH"]


def test_diff_is_stored_plain_with_labels(run: Run) -> None:
    data = result(run, "diff/mismatch")
    assert data["failure_reasons"] == ["DIFF"]
    assert data["diff"] == "--- expected\n+++ actual\n@@ -1,3 +1,3 @@\n a\n-B\n+b\n c\n"
    assert "\x1b" not in data["diff"]
    assert data["out"] == "a\nb\nc\n"
    assert data["expected"] == "a\nB\nc\n"
    assert data["info"]["baseline"]["path"].endswith("tests/diff/mismatch/test.out")
    assert data["info"]["baseline"]["optional"] is True


def test_missing_final_newline_is_spelled_out(run: Run) -> None:
    assert result(run, "diff/no-newline")["diff"] == (
        "--- expected\n+++ actual\n@@ -1 +1 @@\n-abc\n+abc\n\\ No newline at end of file\n"
    )


def test_missing_baseline_diff_shows_the_whole_output(run: Run) -> None:
    data = result(run, "diff/missing")
    assert data["diff"] == "--- expected\n+++ actual\n@@ -0,0 +1 @@\n+new\n"
    assert data["failure_reasons"] == ["DIFF"]


def test_status_failure_alone_is_not_a_diff(run: Run) -> None:
    assert result(run, "shell/false")["failure_reasons"] == []


def test_commands_are_logged_and_recorded(run: Run) -> None:
    data = result(run, "diff/source-text")
    assert data["log"].startswith("$ echo yes 1e3 0x10 true 1.50 null\nyes 1e3 0x10 true 1.50 null\n")
    assert data["processes"][0]["argv"] == ["echo", "yes", "1e3", "0x10", "true", "1.50", "null"]


def test_summary_and_exit_code(run: Run) -> None:
    assert run.code == 1
    assert run.stdout.rstrip().splitlines()[-1] == "e3suite: 15 passed, 18 failed, 0 skipped"


def test_regexp_baseline_is_not_refined_into_a_literal(tmp_path: Path) -> None:
    # A regexp baseline with a refiner: the output is refined, the pattern is not.
    root = make_suite(tmp_path, {
        "tests/t/test.yaml": "driver: diff\ncmd: [echo, 'at /x/y']\nbaseline_regexp: true\n"
                             "refiners: [{substring: /x/y, replace: PATH}]\n",
        "tests/t/test.out": "at [A-Z]+\n",
    })
    run = run_suite(root)
    assert verdict(run, "t") == ("PASS", "")
