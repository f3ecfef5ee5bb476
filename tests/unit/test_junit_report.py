"""JUnit XML: valid against the Jenkins/GitLab schema, read back by junitparser, mapped as documented."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import junitparser
import pytest
import xmlschema
from report_support import DATA, check_snapshot, run_report

import e3suite.store as store
from e3suite.model import Attempt, TestResult, TestStatus, count_flaky_as
from e3suite.reports.data import RunReport, load_report
from e3suite.reports.junit import LOG_CHARS, render_junit, split_id, xml_attr, xml_text

SCHEMA = xmlschema.XMLSchema(str(DATA / "junit.xsd"))


def fixture_junit(tmp_path: Path, *extra: str) -> Path:
    target = tmp_path / "junit.xml"
    code, _, err = run_report(["results/new", "--junit", str(target), *extra], DATA)
    assert code == 0, err
    return target


def test_junit_snapshot_and_schema(tmp_path: Path) -> None:
    target = fixture_junit(tmp_path)
    SCHEMA.validate(str(target))
    check_snapshot("report.junit.xml", target.read_text(encoding="utf-8"))


def test_schema_rejects_what_ci_tools_reject(tmp_path: Path) -> None:
    # The validation above can fail: a testcase without a name is refused.
    bad = tmp_path / "bad.xml"
    bad.write_text('<testsuites><testsuite name="s" tests="1"><testcase classname="c"/></testsuite></testsuites>')
    assert not SCHEMA.is_valid(str(bad))


def test_junitparser_reads_the_mapping(tmp_path: Path) -> None:
    xml = junitparser.JUnitXml.fromfile(str(fixture_junit(tmp_path)))
    suites = list(xml)
    assert len(suites) == 1
    suite = suites[0]
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (10, 1, 1, 3)
    cases = {f"{c.classname}/{c.name}": c for c in suite}
    assert sorted(cases) == [
        "a/breaks", "a/now-skipped", "a/repaired", "a/still-broken", "a/unchanged",
        "new/xfail", "perf/slow", "x/na", "x/verify", "x/xpass",
    ]

    def kinds(case: junitparser.TestCase) -> list[str]:
        return [type(r).__name__ for r in case.result]

    assert kinds(cases["a/breaks"]) == ["Failure"]
    failure = cases["a/breaks"].result[0]
    assert failure.message == "output differs"
    assert "failure reasons: DIFF" in failure.text and "+hullo" in failure.text
    assert kinds(cases["a/still-broken"]) == ["Error"]
    assert kinds(cases["a/now-skipped"]) == ["Skipped"]
    assert cases["a/now-skipped"].result[0].message == "needs a GPU"
    assert cases["new/xfail"].result[0].message == "expected failure: bug #12 (wrong output)"
    assert kinds(cases["x/na"]) == ["Skipped"]
    assert kinds(cases["x/xpass"]) == [] and kinds(cases["x/verify"]) == []
    assert cases["perf/slow"].time == pytest.approx(3.0)
    # Logs in system-out: markup kept as text, XML-forbidden characters gone.
    out = cases["a/breaks"].system_out
    assert out.startswith("running <script>alert('x')</script> & more[31m red[0m\nline 2")


def test_properties_carry_verdicts_reasons_and_changes(tmp_path: Path) -> None:
    text = fixture_junit(tmp_path).read_text(encoding="utf-8")
    xpass = text[text.index('name="xpass"') : text.index("</testcase>", text.index('name="xpass"'))]
    assert '<property name="verdict" value="XPASS"/>' in xpass
    assert '<property name="change" value="new"/>' in xpass
    assert '<property name="failure_reason" value="DIFF"/><property name="change" value="new_failures"/>' in text
    assert '<property name="e3suite.compare.new_failures" value="1"/>' in text
    assert '<property name="e3suite.compare.removed_testcase" value="gone/t"/>' in text


def test_xpass_as_failure_option(tmp_path: Path) -> None:
    target = fixture_junit(tmp_path, "--junit-xpass-as-failure")
    SCHEMA.validate(str(target))
    suite = next(iter(junitparser.JUnitXml.fromfile(str(target))))
    assert suite.failures == 2
    xpass = next(c for c in suite if c.name == "xpass")
    assert [type(r).__name__ for r in xpass.result] == ["Failure"]


def test_ids_give_classname_and_name() -> None:
    assert split_id("a/b/c") == ("a.b", "c")
    assert split_id("top") == ("e3suite", "top")
    assert split_id("m[opt=O2]/t") == ("m[opt=O2]", "t")
    # A matrix value holding "/" stays in the name (it made class "grp.m[p=usr" and name "bin]").
    assert split_id("grp/m[p=usr/bin]") == ("grp", "m[p=usr/bin]")
    assert split_id("grp/m[p=usr/bin]/check") == ("grp.m[p=usr/bin]", "check")
    assert split_id("x/y]") == ("x", "y]") and split_id("a[/b") == ("a[", "b")
    # A directory named with brackets, then a matrix: its values gave class "br[1].m[p=usr", name "bin]".
    assert split_id("br[1]/m[p=usr/bin]") == ("br[1]", "m[p=usr/bin]")
    assert split_id("a/br[1]/m[p=usr/bin,q=x]") == ("a.br[1]", "m[p=usr/bin,q=x]")


def test_forbidden_characters_are_stripped_and_markup_escaped() -> None:
    assert xml_text("a\x00b\x08c\x1bd\ud800e\ufffe <&>") == "abcde &lt;&amp;&gt;"
    assert xml_attr('say "hi"\n\tnow') == '"say &quot;hi&quot;&#10;&#9;now"'


def test_long_logs_are_capped(tmp_path: Path) -> None:
    result = TestResult("t", TestStatus.FAIL, "boom", log="x" * 10 + "\n" + "y" * (LOG_CHARS * 2))
    result.duration = 1.0
    text = render_junit(RunReport(tmp_path, {}, [result], True))
    assert len(text) < LOG_CHARS + 2000
    assert "[log cut to its last" in text


def test_killed_run_junit_is_valid(tmp_path: Path) -> None:
    from test_report_store import make_killed_run

    report = load_report(make_killed_run(tmp_path))
    target = tmp_path / "killed.xml"
    target.write_text(render_junit(report), encoding="utf-8")
    SCHEMA.validate(str(target))
    assert '<property name="e3suite.complete" value="false"/>' in target.read_text()


def test_carried_over_testcases_are_counted_as_listed_and_marked(tmp_path: Path) -> None:
    # A --failed run of `a`: the previous run's FAIL of `b` and SKIP of `c` are carried over.
    ran = TestResult("a", TestStatus.PASS, "fixed")
    kept_fail = TestResult("b", TestStatus.FAIL, "still wrong")
    kept_skip = TestResult("c", TestStatus.SKIP, "needs a GPU")
    for kept in (kept_fail, kept_skip):
        kept.carried_over = True
    target = tmp_path / "carried.xml"
    target.write_text(render_junit(RunReport(tmp_path, {}, [ran, kept_fail, kept_skip], True)), encoding="utf-8")
    SCHEMA.validate(str(target))
    [suite] = list(junitparser.JUnitXml.fromfile(str(target)))
    # The counts agree with the <failure>/<skipped> elements the document holds.
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (3, 1, 0, 1)
    text = target.read_text()
    assert text.count('<property name="carried_over" value="true"/>') == 2


def flaky_result() -> TestResult:
    """A testcase that failed twice, then passed on its third attempt."""
    result = TestResult("a/wobbly", TestStatus.FLAKY, "passed on attempt 3")
    result.attempts = [
        Attempt(1, TestStatus.FAIL, "failed on attempt 1", 0.1, log="try 1\n"),
        Attempt(2, TestStatus.ERROR, "raised on attempt 2", 0.1),
        Attempt(3, TestStatus.PASS, "passed on attempt 3", 0.1),
    ]
    result.attempts_allowed = 3
    result.duration = 0.3
    return result


def junit_kinds(text: str, tmp_path: Path) -> tuple[junitparser.TestSuite, list[str]]:
    target = tmp_path / "flaky.xml"
    target.write_text(text, encoding="utf-8")
    SCHEMA.validate(str(target))
    [suite] = list(junitparser.JUnitXml.fromfile(str(target)))
    [case] = list(suite)
    return suite, [child.tag for child in case._elem if child.tag not in ("properties", "system-out")]


@pytest.fixture
def flaky_counted_as_passed_afterwards() -> Iterator[None]:
    """load_report sets how FLAKY counts from the run it reads: put the default back."""
    yield
    count_flaky_as("passed")


def test_flaky_is_a_passing_testcase_by_default(tmp_path: Path) -> None:
    for run in ({}, {"flaky_result": "pass"}):
        suite, kinds = junit_kinds(render_junit(RunReport(tmp_path, run, [flaky_result()], True)), tmp_path)
        assert (suite.tests, suite.failures, suite.errors) == (1, 0, 0)
        assert kinds == ["flakyFailure", "flakyError"]


def test_flaky_result_fail_makes_flaky_a_failure(tmp_path: Path) -> None:
    text = render_junit(RunReport(tmp_path, {"flaky_result": "fail"}, [flaky_result()], True))
    suite, kinds = junit_kinds(text, tmp_path)
    # Counted as the summary line counts it (failed), its attempts still listed.
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (1, 1, 0, 0)
    assert kinds == ["failure", "flakyFailure", "flakyError"]
    [case] = list(suite)
    failure = case.result[0]
    assert failure.type == "FLAKY"
    assert failure.message == "flaky: failed on attempts 1, 2, passed on attempt 3"
    assert "passed on attempt 3" in failure.text
    assert '<testsuites name="e3suite" tests="1" failures="1"' in text


def test_flaky_failure_message_for_one_failed_attempt(tmp_path: Path) -> None:
    result = flaky_result()
    result.attempts = [result.attempts[0], result.attempts[2]]
    result.attempts[1].number = 2
    text = render_junit(RunReport(tmp_path, {"flaky_result": "fail"}, [result], True))
    assert 'message="flaky: failed on attempt 1, passed on attempt 2"' in text


@pytest.mark.parametrize("finished", [True, False], ids=["index", "journal"])
def test_regenerated_junit_knows_the_runs_flaky_result(
    tmp_path: Path, finished: bool, flaky_counted_as_passed_afterwards: None
) -> None:
    # The run's metadata (index.json, or the journal's run_started when the run
    # was killed) says --flaky-result fail: `e3suite report --junit` agrees with
    # the summary line, which counts FLAKY as failed.
    path = tmp_path / "new"
    info = {"start": 1000.0, "version": "0.1.0", "argv": ["t.py"], "jobs": 1, "flaky_result": "fail"}
    writer = store.ResultsWriter(path)
    writer.journal.write("run_started", **info)
    writer.journal.write("test_discovered", test="a/wobbly")
    writer.write_result(flaky_result())
    if finished:
        writer.write_index({**info, "end": 1001.0, "duration": 1.0, "interrupted": False})
        writer.close()
    else:
        writer.journal.close()
    report = load_report(path)
    assert report.complete is finished
    assert report.counts()["failed"] == 1
    suite, kinds = junit_kinds(render_junit(report), tmp_path)
    assert suite.failures == 1 and kinds[0] == "failure"
    code, out, err = run_report([str(path), "--junit", "-", "--no-compare"], tmp_path)
    assert code == 0
    assert "e3suite: 0 passed, 1 failed, 0 skipped" in err  # the summary goes to stderr
    assert out == render_junit(report)


def test_a_run_of_an_e3_testsuite_testsuite_is_named_as_e3_testsuite_names_it(tmp_path: Path) -> None:
    """CI keys a testcase's history on classname + name: those of e3-testsuite's --xunit-output."""
    nested = TestResult("sub/nested", TestStatus.PASS, "")
    nested.info["e3_name"] = "sub__nested"
    pushed = TestResult("crash", TestStatus.ERROR, "crash.run_wrapper")
    pushed.info["e3_name"] = "crash.run_wrapper"
    nothing = TestResult("only/computes", TestStatus.NOT_APPLICABLE, "no result pushed")
    run = {"e3_testsuite_name": "My <suite>"}
    target = tmp_path / "e3.xml"
    target.write_text(render_junit(RunReport(tmp_path, run, [nested, pushed, nothing], True)), encoding="utf-8")
    SCHEMA.validate(str(target))
    xml = junitparser.JUnitXml.fromfile(str(target))
    assert xml.name == "My <suite>"
    [suite] = list(xml)
    assert suite.name == "My <suite>"
    assert [(c.classname, c.name) for c in suite] == [
        ("My <suite>", "sub__nested"), ("My <suite>", "crash.run_wrapper"), ("My <suite>", "only__computes"),
    ]


def test_the_system_out_of_a_testcase_whose_driver_logged_nothing_holds_its_commands() -> None:
    from e3suite.reports.junit import _testcase

    result = TestResult("t", TestStatus.FAIL, "it failed")
    result.processes = [{"argv": ["sh", "-c", "exit 3"], "status": 3, "signal": None, "timed_out": False,
                         "timeout": None, "output": "oops\n"}]
    assert "<system-out>$ sh -c 'exit 3'\noops\n[exit status 3]\n</system-out>" in _testcase(
        result, None, False, False, None
    )


def test_a_pushed_results_message_does_not_repeat_its_name_as_e3_testsuite_s_report() -> None:
    """e3suite's line names a result pushed under another name first (`t.two: check two`); its testcase element
    names it already: e3-testsuite's --xunit-output says `message="check two"`."""
    from e3suite.reports.junit import _testcase

    pushed = TestResult("t", TestStatus.FAIL, "t.two: check two")
    pushed.info["e3_name"] = "t.two"
    assert 'message="check two"' in _testcase(pushed, None, False, False, "suite")
    assert 'message="t.two: check two"' in _testcase(pushed, None, False, False, None)  # an e3suite run's own
