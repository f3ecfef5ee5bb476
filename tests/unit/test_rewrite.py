"""--rewrite during a run, and ``e3suite rewrite RESULTS_DIR [--dry-run]`` after it."""

from __future__ import annotations

from pathlib import Path

from drivers_support import make_suite, run_e3suite, run_suite

FILES: dict[str, str | bytes] = {
    "tests/update/test.yaml": "driver: diff\ncmd: [echo, new]\n",
    "tests/update/test.out": "old\n",
    "tests/create/test.yaml": "driver: diff\ncmd: [echo, created]\n",
    "tests/delete/test.yaml": "driver: diff\ncmd: [true]\n",
    "tests/delete/test.out": "stale\n",
    "tests/required-empty/test.yaml": "driver: diff\ncmd: [true]\nbaseline: expected.txt\n",
    "tests/same/test.yaml": "driver: diff\ncmd: [echo, same]\n",
    "tests/same/test.out": "same\n",
    "tests/status/test.yaml": "driver: diff\ncmd: 'echo same; exit 1'\n",
    "tests/status/test.out": "same\n",
    "tests/regexp/test.yaml": "driver: diff\ncmd: [echo, abc]\nbaseline_regexp: true\n",
    "tests/regexp/test.out": "x+\n",
    "tests/binary/test.yaml": "driver: diff\ncmd: 'printf \"a\\\\377b\\\\r\\\\n\"'\n",
}


def snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root / "tests").as_posix(): p.read_text(encoding="utf-8")
        for p in sorted((root / "tests").rglob("*"))
        if p.is_file() and p.name != "test.yaml"
    }


BEFORE = {
    "delete/test.out": "stale\n",
    "regexp/test.out": "x+\n",
    "same/test.out": "same\n",
    "status/test.out": "same\n",
    "update/test.out": "old\n",
}
AFTER = {
    "binary/test.out": "a\ufffdb\n",
    "create/test.out": "created\n",
    "regexp/test.out": "x+\n",
    "required-empty/expected.txt": "",
    "same/test.out": "same\n",
    "status/test.out": "same\n",
    "update/test.out": "new\n",
}
SUMMARY = [
    "e3suite: baselines: 1 updated, 3 created, 1 deleted",
    "  updated  update: tests/update/test.out",
    "  created  binary: tests/binary/test.out",
    "  created  create: tests/create/test.out",
    "  created  required-empty: tests/required-empty/expected.txt",
    "  deleted  delete: tests/delete/test.out",
]


def test_rewrite_during_the_run(tmp_path: Path) -> None:
    root = make_suite(tmp_path, FILES)
    assert snapshot(root) == BEFORE
    run = run_suite(root, "-j2", "--rewrite")
    assert run.code == 1  # the run still reports what it found
    messages = {k: (v["status"], v["message"]) for k, v in run.results.items()}
    assert messages["update"] == ("FAIL", "output differs from test.out (baseline updated)")
    assert messages["create"] == ("FAIL", "missing baseline test.out (baseline created)")
    assert messages["delete"] == ("FAIL", "output differs from test.out (baseline deleted)")
    assert messages["required-empty"] == ("FAIL", "missing baseline expected.txt (baseline created)")
    assert messages["status"] == ("FAIL", "exit status 1 (expected 0)")  # not a DIFF: untouched
    # regexps are never rewritten, and say so
    assert messages["regexp"] == ("FAIL", "output differs from test.out (baseline not rewritten: a regexp)")
    lines = run.stdout.splitlines()
    at = lines.index(SUMMARY[0])
    assert lines[at : at + len(SUMMARY)] == SUMMARY
    assert lines[-1] == "e3suite: 1 passed, 7 failed, 0 skipped"  # the summary line stays the last one
    assert snapshot(root) == AFTER
    # and now the rewritten testcases pass
    run = run_suite(root, "update", "create", "delete", "required-empty", "binary", "same")
    assert {v["status"] for v in run.results.values()} == {"PASS"}


def test_rewrite_with_a_report_on_stdout_leaves_stdout_to_the_document(tmp_path: Path) -> None:
    import json

    root = make_suite(tmp_path, FILES)
    run = run_suite(root, "-j2", "--rewrite", "--json", "-")
    document = json.loads(run.stdout)  # nothing else on stdout
    assert document["counts"]["failed"] == 7
    assert SUMMARY[0] in run.stderr.splitlines()


def test_rewrite_after_the_fact_with_dry_run(tmp_path: Path) -> None:
    root = make_suite(tmp_path, FILES)
    run = run_suite(root, "-j2")
    assert run.code == 1
    dry = run_e3suite(root, "rewrite", "--dry-run", "out/new")
    assert dry.returncode == 0, dry.stderr
    assert snapshot(root) == BEFORE  # a dry run writes nothing
    assert "--- tests/update/test.out\n+++ tests/update/test.out (updated)\n@@ -1 +1 @@\n-old\n+new\n" in dry.stdout
    assert "--- tests/delete/test.out\n+++ tests/delete/test.out (deleted)\n@@ -1 +0,0 @@\n-stale\n" in dry.stdout
    assert dry.stdout.splitlines()[-len(SUMMARY):] == [
        SUMMARY[0].replace("baselines:", "baselines that would change:"), *SUMMARY[1:]
    ]
    done = run_e3suite(root, "rewrite", "out/new")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == SUMMARY
    assert snapshot(root) == AFTER
    # applying it again changes nothing
    again = run_e3suite(root, "rewrite", "out/new")
    assert again.stdout.splitlines() == ["e3suite: baselines: 0 updated, 0 created, 0 deleted"]


def test_rewrite_of_an_output_directory_means_its_new_run(tmp_path: Path) -> None:
    """`e3suite rewrite out` reads out/new, as `e3suite report out` does."""
    root = make_suite(tmp_path, FILES)
    run_suite(root, "-j2")
    dry = run_e3suite(root, "rewrite", "--dry-run", "out")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[-len(SUMMARY):] == [
        SUMMARY[0].replace("baselines:", "baselines that would change:"), *SUMMARY[1:]
    ]


def test_rewrite_of_a_directory_that_is_not_a_results_directory(tmp_path: Path) -> None:
    proc = run_e3suite(tmp_path, "rewrite", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.startswith("e3suite rewrite: error: ")
    assert "is not an e3suite results directory" in proc.stderr


def test_a_baseline_outside_the_test_directory_is_an_error_and_never_written(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.out"
    outside.write_text("precious\n")
    root = make_suite(tmp_path / "suite", {
        "tests/absolute/test.yaml": f"driver: diff\ncmd: [echo, new]\nbaseline: {outside}\n",
        "tests/up/test.yaml": "driver: diff\ncmd: [echo, new]\nbaseline: ../../../escaped.out\n",
        "tests/link/test.yaml": "driver: diff\ncmd: [echo, new]\nbaseline: sub/test.out\n",
        "tests/fine/test.yaml": "driver: diff\ncmd: [echo, new]\nbaseline: sub/dir/test.out\n",
    })
    (root / "tests" / "link" / "sub").symlink_to(tmp_path)
    run = run_suite(root, "-j2", "--rewrite")
    assert run.code == 1
    messages = {k: (v["status"], v["message"]) for k, v in run.results.items()}
    assert messages == {
        "absolute": ("ERROR", f"baseline {str(outside)!r} is outside the test directory"),
        "up": ("ERROR", "baseline '../../../escaped.out' is outside the test directory"),
        "link": ("ERROR", "baseline 'sub/test.out' is outside the test directory"),
        "fine": ("FAIL", "missing baseline sub/dir/test.out (baseline created)"),
    }
    assert outside.read_text() == "precious\n"
    assert not (tmp_path / "escaped.out").exists() and not (tmp_path / "test.out").exists()
    assert (root / "tests" / "fine" / "sub" / "dir" / "test.out").read_text() == "new\n"


def test_e3suite_rewrite_refuses_a_record_pointing_outside_its_test_directory(tmp_path: Path) -> None:
    import json

    root = make_suite(tmp_path / "suite", {"tests/a/test.yaml": "driver: diff\ncmd: [echo, new]\n"})
    run = run_suite(root, "-j1")
    assert run.code == 1
    # A record edited by hand (or by a tool) must not turn `e3suite rewrite` into a file writer.
    journal = root / "out" / "new" / "journal.jsonl"
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    [event] = [e for e in events if e["event"] == "test_result" and e["test"] == "a"]
    data = event["result"]

    def write_record() -> None:
        journal.write_text("".join(json.dumps(e) + "\n" for e in events))

    target = tmp_path / "victim.txt"
    data["info"]["baseline"]["path"] = str(target)
    write_record()
    for args in (["rewrite", "--dry-run", "out/new"], ["rewrite", "out/new"]):
        proc = run_e3suite(root, *args)
        assert proc.returncode == 1
        assert proc.stderr == f"e3suite rewrite: error: a: baseline {str(target)!r} is outside the test directory\n"
    # A record that does not say where its test directory is (older e3suite): refused too.
    del data["info"]["baseline"]["test_dir"]
    data["info"]["baseline"]["path"] = str(root / "tests" / "a" / "test.out")
    write_record()
    proc = run_e3suite(root, "rewrite", "out/new")
    assert proc.returncode == 1 and "its test directory is not recorded" in proc.stderr
    assert not target.exists() and not (root / "tests" / "a" / "test.out").exists()


def test_an_output_over_the_cap_is_compared_and_rewritten_whole(tmp_path: Path) -> None:
    import json
    import sys

    lines = 400_000  # 5.9 MB, over process.DEFAULT_OUTPUT_LIMIT and STORED_TEXT_LIMIT
    script = f"import sys\nfor i in range({lines}): sys.stdout.write(f'line {{i}}\\n')"
    expected = "".join(f"line {i}\n" for i in range(lines))
    test_yaml = json.dumps({"driver": "diff", "cmd": [sys.executable, "-c", script]})
    root = make_suite(tmp_path, {"tests/big/test.yaml": test_yaml})
    baseline = root / "tests" / "big" / "test.out"
    run = run_suite(root, "-j1", "--rewrite")
    assert run.results["big"]["message"] == "missing baseline test.out (baseline created)"
    assert baseline.read_text() == expected  # never "[... N bytes omitted ...]"
    run = run_suite(root, "-j1")
    assert (run.code, run.results["big"]["status"]) == (0, "PASS")
    # A change in the middle, where the capped output has a hole, is seen.
    baseline.write_text(expected.replace("line 200000\n", "line 200000 changed\n"))
    run = run_suite(root, "-j1")
    record = run.results["big"]
    assert (run.code, record["status"], record["message"]) == (1, "FAIL", "output differs from test.out")
    assert "-line 200000 changed\n+line 200000\n" in record["diff"]
    assert len(record["out"]) < 1_100_000 and record["info"]["out_truncated"] == len(expected)
    # The record keeps part of the output: `e3suite rewrite` refuses to make a baseline of it.
    for args in (["rewrite", "--dry-run", "out/new"], ["rewrite", "out/new"]):
        proc = run_e3suite(root, *args)
        assert proc.returncode == 1
        assert proc.stderr == (
            f"e3suite rewrite: error: big: the record keeps only part of the {len(expected)}-character output: "
            "rewrite this baseline with ./testsuite.py --rewrite\n"
        )
    assert "changed" in baseline.read_text()
    run = run_suite(root, "-j1", "--rewrite")
    assert run.results["big"]["message"] == "output differs from test.out (baseline updated)"
    assert baseline.read_text() == expected


def test_matrix_variants_that_disagree_on_their_shared_baseline(tmp_path: Path) -> None:
    """No content passes both: the run warns, ``e3suite rewrite`` refuses rather than keep one by chance."""
    files: dict[str, str | bytes] = {
        "tests/m/test.yaml": "driver: diff\ncmd: [echo, 'v=${v}']\nmatrix: {v: [a, b]}\n",
        "tests/m/test.out": "old\n",
        "tests/agree/test.yaml": "driver: diff\ncmd: [echo, same]\nmatrix: {v: [a, b]}\n",
    }
    warning = (
        "e3suite: warning: tests/m/test.out: m[v=a], m[v=b] give different outputs for this one baseline; "
        "refine their outputs (refiners) so that they agree"
    )
    root = make_suite(tmp_path, files)
    run = run_suite(root, "-j1")
    assert run.code == 1
    for args in (["rewrite", "--dry-run", "out/new"], ["rewrite", "out/new"]):
        proc = run_e3suite(root, *args)
        assert proc.returncode == 1, args
        assert proc.stderr == "e3suite rewrite: error: " + warning[len("e3suite: warning: "):] + "; not written\n"
        assert "created  agree[v=a]: tests/agree/test.out" in proc.stdout  # the others are still rewritten
    assert (root / "tests" / "m" / "test.out").read_text() == "old\n"
    assert (root / "tests" / "agree" / "test.out").read_text() == "same\n"
    run = run_suite(root, "-j1", "--rewrite", "m")
    assert warning + "; not written\n" in run.stderr  # as e3suite rewrite: neither output is kept by chance
    assert (root / "tests" / "m" / "test.out").read_text() == "old\n"


def test_a_variant_that_matched_the_shared_baseline_is_not_broken_by_a_rewrite(tmp_path: Path) -> None:
    """m[v=a] passes with test.out, m[v=b] fails: writing m[v=b]'s output would make m[v=a] fail."""
    files: dict[str, str | bytes] = {
        "tests/m/test.yaml": "driver: diff\ncmd: [echo, 'v=${v}']\nmatrix: {v: [a, b]}\n",
        "tests/m/test.out": "v=a\n",
    }
    message = (
        "tests/m/test.out: m[v=a], m[v=b] give different outputs for this one baseline; "
        "refine their outputs (refiners) so that they agree"
    )
    root = make_suite(tmp_path, files)
    run = run_suite(root, "-j1")
    assert (run.results["m[v=a]"]["status"], run.results["m[v=b]"]["status"]) == ("PASS", "FAIL")
    for args in (["rewrite", "--dry-run", "out/new"], ["rewrite", "out/new"]):
        proc = run_e3suite(root, *args)
        assert proc.returncode == 1, args
        assert proc.stderr == f"e3suite rewrite: error: {message}; not written\n"
    assert (root / "tests" / "m" / "test.out").read_text() == "v=a\n"
    run = run_suite(root, "-j1", "--rewrite")
    assert f"e3suite: warning: {message}; not written\n" in run.stderr
    assert (root / "tests" / "m" / "test.out").read_text() == "v=a\n"  # m[v=a] still passes


def test_an_expected_failure_keeps_its_baseline(tmp_path: Path) -> None:
    """XFAIL says the output is the wrong one: neither --rewrite nor ``e3suite rewrite`` makes it the baseline."""
    files: dict[str, str | bytes] = {
        "tests/known-bug/test.yaml": "driver: diff\ncmd: [echo, wrong]\ncontrol: [[XFAIL, 'True', 'bug 42']]\n",
        "tests/known-bug/test.out": "right\n",
        "tests/update/test.yaml": "driver: diff\ncmd: [echo, new]\n",
        "tests/update/test.out": "old\n",
    }
    root = make_suite(tmp_path, files)
    run = run_suite(root, "-j2", "--rewrite")
    assert run.results["known-bug"]["status"] == "XFAIL"
    assert (root / "tests/known-bug/test.out").read_text() == "right\n"
    assert (root / "tests/update/test.out").read_text() == "new\n"
    (root / "tests/update/test.out").write_text("old\n")
    run = run_suite(root, "-j2")
    assert run.results["known-bug"]["status"] == "XFAIL"
    done = run_e3suite(root, "rewrite", "out/new")
    assert done.returncode == 0, done.stderr
    assert (root / "tests/known-bug/test.out").read_text() == "right\n"
    assert (root / "tests/update/test.out").read_text() == "new\n"
