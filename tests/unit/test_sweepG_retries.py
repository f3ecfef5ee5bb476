"""--rewrite with retries: a testcase whose baseline the attempt rewrote is not tried again.

Before, attempt 1 failed on a difference and wrote its output to test.out;
attempt 2 compared with that output, passed, and the testcase ended FLAKY:
the run exited 0 and its summary said "baselines: 0 updated, 0 created,
0 deleted" although test.out had changed.
"""

from __future__ import annotations

from pathlib import Path

from drivers_support import make_suite, run_suite


def test_a_rewritten_baseline_is_not_retried_and_the_summary_counts_it(tmp_path: Path) -> None:
    root = make_suite(tmp_path, {
        "tests/outdated/test.yaml": "driver: diff\ncmd: [echo, new]\n",
        "tests/outdated/test.out": "old\n",
        "tests/m/test.yaml": "driver: diff\ncmd: [echo, same]\nmatrix: {v: [a, b]}\n",
        # Not a baseline's doing: retried as usual.
        "tests/flaky/test.yaml": "driver: shell\ncmd: 'test \"$E3SUITE_ATTEMPT\" = 2'\n",
    })
    run = run_suite(root, "-j1", "--retries", "2", "--rewrite")
    assert run.code == 1
    outdated = run.results["outdated"]
    assert outdated["status"] == "FAIL"
    assert outdated["message"] == (
        "output differs from test.out (baseline updated) (attempt 2 of 3 not run: --rewrite wrote its baseline)"
    )
    assert len(outdated.get("attempts") or [None]) == 1
    assert run.results["m[v=b]"]["status"] == "FAIL"
    assert run.results["flaky"]["status"] == "FLAKY"
    assert "e3suite: baselines: 1 updated, 1 created, 0 deleted\n" in run.stdout
    assert "RETRY  outdated" not in run.stdout
    assert (root / "tests/outdated/test.out").read_text() == "new\n"
    assert (root / "tests/m/test.out").read_text() == "same\n"

