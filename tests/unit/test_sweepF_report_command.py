"""``e3suite report``'s (and a run's) report files, as a CI configuration names them."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from report_support import copy_results, run_report

from e3suite.reports.command import ReportError, check_targets


def test_two_reports_to_one_file_are_refused(tmp_path: Path) -> None:
    """`--junit r.xml --html r.xml`: the HTML replaced the JUnit file, and CI parsed a page as JUnit."""
    results = copy_results(tmp_path)
    code, out, err = run_report([str(results / "new"), "--junit", "r.xml", "--html", "./r.xml"], tmp_path)
    assert (code, out) == (2, "")
    assert err == "e3suite: error: --junit and --html name the same file ./r.xml: each report needs its own\n"
    assert not (tmp_path / "r.xml").exists()
    # The run checks its report files the same way, before anything runs.
    (tmp_path / "link.json").symlink_to(tmp_path / "d.json")
    options = argparse.Namespace(junit=None, html=None, json=str(tmp_path / "link.json"),
                                 durations=str(tmp_path / "d.json"))
    with pytest.raises(ReportError, match="--json and --durations name the same file"):
        check_targets(options)


def test_reports_may_share_a_stream(tmp_path: Path) -> None:
    results = copy_results(tmp_path)
    code, _, err = run_report([str(results / "new"), "--junit", "/dev/null", "--html", "/dev/null"], tmp_path)
    assert (code, err) == (0, "")


def test_verbose_alone_prints_every_testcase_and_its_log(tmp_path: Path) -> None:
    """`e3suite report out -v` printed the summary only: -v showed logs only beside -a."""
    results = copy_results(tmp_path)
    code, verbose, err = run_report([str(results / "new"), "--no-color", "--no-compare", "-v"], tmp_path)
    assert (code, err) == (0, "")
    _, both, _ = run_report([str(results / "new"), "--no-color", "--no-compare", "-v", "-a"], tmp_path)
    assert verbose == both
    lines = verbose.splitlines()
    assert lines[:3] == ["PASS   a/unchanged", "FAIL   a/breaks: output differs",
                         "    | running <script>alert('x')</script> & more\x01\x1b[31m red\x1b[0m"]
