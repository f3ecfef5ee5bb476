"""--rewrite and a command that exits with a status test.yaml does not expect.

Before, the output of a broken tool ("error: tool broke", exit 2) replaced
a good baseline, with --rewrite and with ``e3suite rewrite``: the docs
promise that other failures than a difference (an exit status) are never
touched, as in e3-testsuite, where the status check stops the testcase
before the comparison.
"""

from __future__ import annotations

from pathlib import Path

from drivers_support import make_suite, run_e3suite, run_suite


def test_a_command_that_exits_with_the_wrong_status_keeps_its_baseline(tmp_path: Path) -> None:
    """Before, --rewrite (and ``e3suite rewrite``) replaced a good baseline with the error a broken tool printed."""
    root = make_suite(tmp_path, {
        "tests/broken/test.yaml": "driver: diff\ncmd: 'echo \"error: tool broke\"; exit 2'\n",
        "tests/broken/test.out": "good output\n",
        "tests/m/test.yaml": "driver: diff\ncmd: 'echo ${v}; test ${v} = a'\nmatrix: {v: [a, b]}\n",
        "tests/m/test.out": "old\n",
    })
    run = run_suite(root, "-j1", "--rewrite")
    assert run.results["broken"]["message"] == (
        "exit status 2 (expected 0); output differs from test.out (baseline not rewritten: wrong exit status)"
    )
    assert "e3suite: baselines: 1 updated, 0 created, 0 deleted\n  updated  m[v=a]: tests/m/test.out\n" in run.stdout
    # m[v=b] exits 1: only m[v=a]'s output is wanted, no disagreement.
    assert "give different outputs" not in run.stderr
    assert (root / "tests/broken/test.out").read_text() == "good output\n"
    assert (root / "tests/m/test.out").read_text() == "a\n"
    (root / "tests/m/test.out").write_text("old\n")
    run_suite(root, "-j1")
    done = run_e3suite(root, "rewrite", "out/new")
    assert done.returncode == 0, done.stderr
    assert (root / "tests/broken/test.out").read_text() == "good output\n"
    assert (root / "tests/m/test.out").read_text() == "a\n"


def test_a_regexp_baseline_says_it_is_not_rewritten(tmp_path: Path) -> None:
    """Before, its line read like any other DIFF failure: a --rewrite run seemed to have forgotten it."""
    root = make_suite(tmp_path, {
        "tests/re/test.yaml": "driver: diff\ncmd: [echo, abc]\nbaseline_regexp: true\n",
        "tests/re/test.out": "x+\n",
    })
    run = run_suite(root, "-j1", "--rewrite")
    assert run.results["re"]["message"] == "output differs from test.out (baseline not rewritten: a regexp)"
    assert (root / "tests/re/test.out").read_text() == "x+\n"
    assert run_suite(root, "-j1").results["re"]["message"] == "output differs from test.out"
