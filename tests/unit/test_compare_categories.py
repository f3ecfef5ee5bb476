"""The comparison with the previous run: every category, on crafted outcomes and directories."""

from __future__ import annotations

from pathlib import Path

from report_support import RESULTS

from e3suite import store
from e3suite.model import TestResult, TestStatus
from e3suite.reports.compare import CATEGORIES, Outcome, compare
from e3suite.reports.data import load_report

P, F, E, S = TestStatus.PASS, TestStatus.FAIL, TestStatus.ERROR, TestStatus.SKIP


def ids(comparison, name):  # type: ignore[no-untyped-def]
    return [c.test_id for c in comparison.category(name)]


def test_every_category() -> None:
    old = [
        Outcome("same", P, 1.0), Outcome("breaks", P), Outcome("broken", F), Outcome("err", E),
        Outcome("repaired", F), Outcome("skipped", P), Outcome("still-skipped", S), Outcome("gone", P),
        Outcome("slow", P, 1.0), Outcome("xfail-now", E),
    ]
    new = [
        Outcome("same", P, 1.2), Outcome("breaks", E), Outcome("broken", F), Outcome("err", F),
        Outcome("repaired", P), Outcome("skipped", TestStatus.NOT_APPLICABLE), Outcome("still-skipped", S),
        Outcome("added", F), Outcome("slow", F, 2.5), Outcome("xfail-now", TestStatus.XFAIL),
    ]
    c = compare(new, old, "old")
    assert ids(c, "new_failures") == ["breaks", "slow"]
    assert ids(c, "still_failing") == ["broken", "err"]
    assert ids(c, "fixed") == ["repaired", "xfail-now"]
    assert ids(c, "newly_skipped") == ["skipped"]
    assert ids(c, "new") == ["added"]
    assert ids(c, "removed") == ["gone"]
    assert ids(c, "slower") == ["slow"]  # also a new failure: slower is not exclusive
    assert "slow" in ids(c, "new_failures")
    assert c.changed
    assert c.change_of()["slow"] == "new_failures"  # the first category wins
    assert set(c.to_json()) >= {name for name, _ in CATEGORIES}


def test_slow_needs_ratio_and_absolute_slowdown() -> None:
    old = [Outcome("tiny", P, 0.01), Outcome("big", P, 10.0), Outcome("x3", P, 1.0), Outcome("none", P, None)]
    new = [Outcome("tiny", P, 0.1), Outcome("big", P, 15.0), Outcome("x3", P, 3.0), Outcome("none", P, 5.0)]
    assert ids(compare(new, old, "old"), "slower") == ["x3"]  # tiny: +0.09 s is noise; big: only x1.5
    assert ids(compare(new, old, "old", threshold=1.4), "slower") == ["x3", "big"]  # worst ratio first


def test_nothing_changed() -> None:
    old = [Outcome("a", P), Outcome("b", F)]
    c = compare([Outcome("a", P), Outcome("b", F)], old, "old")
    assert not c.changed
    assert ids(c, "still_failing") == ["b"]


def test_partial_runs_remove_nothing() -> None:
    c = compare([Outcome("a", P)], [Outcome("a", P), Outcome("b", P)], "old", partial=True)
    assert ids(c, "removed") == []


def test_compare_fixed_directories(tmp_path: Path) -> None:
    report = load_report(RESULTS / "new", RESULTS / "old")
    c = report.comparison
    assert c is not None
    assert c.old_count == 7
    assert {name: ids(c, name) for name, _ in CATEGORIES} == {
        "new_failures": ["a/breaks"],
        "still_failing": ["a/still-broken"],
        "flaky": [],
        "fixed": ["a/repaired"],
        "newly_skipped": ["a/now-skipped"],
        "new": ["new/xfail", "x/na", "x/verify", "x/xpass"],
        "removed": ["gone/t"],
        "slower": ["perf/slow"],
    }
    # An unreadable previous run gives no comparison, not an error.
    assert load_report(RESULTS / "new", tmp_path).comparison is None


def test_after_a_partial_run_nothing_is_new() -> None:
    c = compare([Outcome("a", P), Outcome("b", F)], [Outcome("a", P)], "old", old_partial=True)
    assert ids(c, "new") == []
    assert not c.changed


def test_a_flaky_testcase_is_its_own_category() -> None:
    c = compare(
        [Outcome("a", TestStatus.FLAKY), Outcome("b", TestStatus.FLAKY)],
        [Outcome("a", P), Outcome("b", F)],
        "old",
    )
    assert ids(c, "flaky") == ["a", "b"]
    assert ids(c, "fixed") == [] and ids(c, "new_failures") == []
    assert c.changed


def test_a_run_killed_before_its_testcases_were_journaled_adds_and_removes_nothing(tmp_path: Path) -> None:
    """Killed in its set-up, a run's journal holds its start only: the comparison called every testcase of
    the previous run removed, and the next run called every one of its own new."""
    killed = tmp_path / "killed"
    killed.mkdir()
    (killed / "journal.jsonl").write_text('{"event": "run_started", "start": 1.0, "selection": []}\n')
    against_old = load_report(killed, RESULTS / "new").comparison
    assert against_old is not None and ids(against_old, "removed") == [] and not against_old.changed
    against_killed = load_report(RESULTS / "new", killed).comparison
    assert against_killed is not None and ids(against_killed, "new") == []


def test_a_testcase_that_did_not_run_is_never_slower() -> None:
    """A testcase an interruption skipped (0 s) read as "markedly slower" when it ran next time."""
    c = compare(
        [Outcome("ran-now", P, 1.2), Outcome("skipped-now", S, 3.0)],
        [Outcome("ran-now", S, 0.0), Outcome("skipped-now", P, 0.1)],
        "old",
    )
    assert ids(c, "slower") == []
    assert ids(compare([Outcome("t", P, 1.2)], [Outcome("t", P, 0.1)], "old"), "slower") == ["t"]


def test_a_run_its_set_up_stopped_adds_and_removes_nothing(tmp_path: Path) -> None:
    """A set-up that stops the run (exit 2) writes an index with no testcase: it called every one removed."""
    from e3suite import store

    stopped = tmp_path / "stopped"
    stopped.mkdir()
    store.write_index(stopped, {"start": 1.0, "selection": []}, [])
    against_old = load_report(stopped, RESULTS / "new").comparison
    assert against_old is not None and ids(against_old, "removed") == []
    against_stopped = load_report(RESULTS / "new", stopped).comparison
    assert against_stopped is not None and ids(against_stopped, "new") == []


def test_a_testcase_the_previous_run_gave_no_verdict_did_not_fail_then() -> None:
    """After a run killed midway, its unfinished testcases' ERROR "no verdict" compared as a failure.

    A regression of the next run read as "still failing (was ERROR)", which
    the summary does not list, and every testcase that merely ran at last as
    "fixed". Such a testcase did not run then: like a skipped one.
    """
    killed = "no verdict: the run ended before this testcase finished"
    old = [
        Outcome("regressed", E, None, killed), Outcome("ran", E, None, killed),
        Outcome("lost", E, None, "no verdict: the journal holds no result for it"),
        Outcome("limit", E, None, "not run: failure limit reached"), Outcome("skipped-now", E, None, killed),
        Outcome("broken", E, 1.0, "no verdict"),  # ran, and its driver set no verdict: a failure
    ]
    new = [
        Outcome("regressed", F, 1.0, "wrong"), Outcome("ran", P, 1.0), Outcome("lost", F), Outcome("limit", E),
        Outcome("skipped-now", S), Outcome("broken", P),
    ]
    c = compare(new, old, "old")
    assert ids(c, "new_failures") == ["limit", "lost", "regressed"]
    assert [ch.old_status for ch in c.new_failures] == [None, None, None]  # never "(was ERROR)"
    not_run = compare([Outcome("t", F)], [Outcome("t", S, None, "not run: failure limit reached")], "old")
    assert ids(not_run, "new_failures") == ["t"] and not_run.new_failures[0].old_status is S  # "(was SKIP)"
    assert ids(c, "still_failing") == [] and ids(c, "newly_skipped") == []
    assert ids(c, "fixed") == ["broken"]
    assert c.fixed[0].old_status is E



def test_a_previous_run_still_going_has_no_verdict_for_its_unfinished_testcases(tmp_path: Path) -> None:
    """--compare with a run still going: its running and waiting testcases read as ERROR ("was ERROR").

    A testcase interrupted now was "still failing", one skipped now "newly skipped (was ERROR)".
    """
    from test_live_report import make_run

    old = make_run(tmp_path / "going", 1000.0, {"done": P}, live=True)
    now = tmp_path / "now"
    writer = store.ResultsWriter(now)
    writer.journal.write("run_started", start=2000.0, selection=[])
    for test, status in (("done", P), ("running", E), ("waiting", S)):
        writer.write_result(TestResult(test, status, "interrupted"))
    writer.close()
    c = load_report(now, old).comparison
    assert c is not None
    assert ids(c, "new_failures") == ["running"] and c.new_failures[0].old_status is None
    assert ids(c, "still_failing") == [] and ids(c, "newly_skipped") == [] and ids(c, "fixed") == []



def test_a_testcase_this_killed_run_did_not_finish_is_in_no_category() -> None:
    """Reported after a CI timeout killed it, a run called every testcase it had not reached a new failure
    (was PASS): the real new failures were buried among them."""
    killed = "no verdict: the run ended before this testcase finished"
    c = compare(
        [Outcome("cut-off", E, None, killed), Outcome("broke", F, 1.0), Outcome("cut-new", E, None, killed)],
        [Outcome("cut-off", P, 1.0), Outcome("broke", P, 1.0), Outcome("gone", P)],
        "old",
    )
    assert ids(c, "new_failures") == ["broke"]
    assert ids(c, "removed") == ["gone"] and ids(c, "new") == ["cut-new"]
    assert "cut-off" not in c.change_of()
