"""--rewrite on a matrix testcase: its variants share one baseline.

Before, each variant wrote the baseline as it finished: the variants that
ran later compared with what an earlier one had just written, so their
verdicts depended on the order they ran in (a FAIL became PASS, an XFAIL an
XPASS), one file was counted once per variant ("1 updated, 1 created"), and
variants that disagreed left "one of them" in the baseline.
"""

from __future__ import annotations

from pathlib import Path

from drivers_support import make_suite, run_e3suite, run_suite


def test_variants_compare_with_the_baseline_as_it_was_and_it_is_written_once(tmp_path: Path) -> None:
    root = make_suite(tmp_path, {
        "tests/m/test.yaml": "driver: diff\ncmd: [echo, same]\nmatrix: {v: [a, b, c]}\n"
                             "control: [[XFAIL, \"matrix.v == 'c'\", 'known']]\n",
    })
    run = run_suite(root, "-j1", "--rewrite")
    assert run.code == 1
    statuses = {test_id: r["status"] for test_id, r in run.results.items()}
    assert statuses == {"m[v=a]": "FAIL", "m[v=b]": "FAIL", "m[v=c]": "XFAIL"}
    message = "missing baseline test.out (baseline to be created at the end of the run)"
    assert run.results["m[v=b]"]["message"] == message
    assert "e3suite: baselines: 0 updated, 1 created, 0 deleted\n  created  m[v=a]: tests/m/test.out\n" in run.stdout
    assert (root / "tests/m/test.out").read_text() == "same\n"
    again = run_suite(root, "-j1")
    assert again.code == 0, again.stdout
    assert {r["status"] for r in again.results.values()} == {"PASS", "XPASS"}


def test_variants_that_disagree_leave_their_baseline_alone_as_e3suite_rewrite_does(tmp_path: Path) -> None:
    root = make_suite(tmp_path, {
        "tests/m/test.yaml": "driver: diff\ncmd: [echo, 'v=${v}']\nmatrix: {v: [a, b]}\n",
        "tests/m/test.out": "v=a\n",
        "tests/one/test.yaml": "driver: diff\ncmd: [echo, new]\n",
        "tests/one/test.out": "old\n",
    })
    run = run_suite(root, "-j2", "--rewrite")
    assert (run.results["m[v=a]"]["status"], run.results["m[v=b]"]["status"]) == ("PASS", "FAIL")
    message = "output differs from test.out (baseline to be updated at the end of the run)"
    assert run.results["m[v=b]"]["message"] == message
    assert run.stderr.endswith(
        "e3suite: warning: tests/m/test.out: m[v=a], m[v=b] give different outputs for this one baseline; "
        "refine their outputs (refiners) so that they agree; not written\n"
    ), run.stderr
    assert "e3suite: baselines: 1 updated, 0 created, 0 deleted\n  updated  one: tests/one/test.out\n" in run.stdout
    assert (root / "tests/m/test.out").read_text() == "v=a\n"
    assert (root / "tests/one/test.out").read_text() == "new\n"
    # The records say what the run did: `e3suite rewrite` has nothing more to write.
    assert run_e3suite(root, "rewrite", "--dry-run", "out/new").returncode == 1


def test_a_dry_run_shows_a_shared_baseline_once_as_the_real_one_writes_it(tmp_path: Path) -> None:
    """Before, ``e3suite rewrite --dry-run`` printed the diff once per variant: "2 created" for one file."""
    root = make_suite(tmp_path, {"tests/m/test.yaml": "driver: diff\ncmd: [echo, same]\nmatrix: {v: [a, b]}\n"})
    run_suite(root, "-j1")
    dry = run_e3suite(root, "rewrite", "--dry-run", "out/new")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout == (
        "--- tests/m/test.out\n+++ tests/m/test.out (created)\n@@ -0,0 +1 @@\n+same\n"
        "e3suite: baselines that would change: 0 updated, 1 created, 0 deleted\n"
        "  created  m[v=a]: tests/m/test.out\n"
    )
    assert not (root / "tests/m/test.out").exists()
    done = run_e3suite(root, "rewrite", "out/new")
    assert "0 updated, 1 created, 0 deleted\n  created  m[v=a]: tests/m/test.out\n" in done.stdout
