"""The HTML report: self-contained, escaped; and driven in a real headless browser.

The browser test uses Debian's chromium through Selenium and chromedriver
(.ci/run installs them). Without them it is skipped locally, and it fails
when CI=true: CI must really run it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from report_support import DATA, copy_results, run_report

from e3suite.model import TestResult, TestStatus
from e3suite.reports.data import RunReport
from e3suite.reports.html import render_html

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
HOSTILE = "</script><script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\">"


def fixture_html(tmp_path: Path) -> Path:
    target = tmp_path / "report.html"
    code, _, err = run_report(["results/new", "--html", str(target)], DATA)
    assert code == 0, err
    return target


def hostile_html(tmp_path: Path) -> Path:
    result = TestResult(f"evil/{HOSTILE}", TestStatus.FAIL, HOSTILE, log=HOSTILE + "\n")
    result.duration = 0.5
    result.diff = HOSTILE
    target = tmp_path / "hostile.html"
    target.write_text(render_html(RunReport(tmp_path, {"argv": [HOSTILE]}, [result], True)), encoding="utf-8")
    return target


def test_html_is_self_contained(tmp_path: Path) -> None:
    text = fixture_html(tmp_path).read_text(encoding="utf-8")
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text)
    assert "@import" not in text and "url(" not in text
    assert text.count("<script") == 2  # the data block and the page's own script


def test_test_output_never_becomes_markup(tmp_path: Path) -> None:
    text = hostile_html(tmp_path).read_text(encoding="utf-8")
    assert text.count("<script") == 2
    assert "window.pwned" in text  # it is there, as escaped data
    assert "<img" not in text
    assert "innerHTML" not in text


def test_a_results_directory_whose_name_is_not_utf8(tmp_path: Path) -> None:
    """The page's title names the directory: one whose name is not UTF-8 stopped the report with a traceback.

    Python decodes the byte as a lone surrogate, which a UTF-8 file cannot
    hold: `e3suite report` (and a run writing --html, after all its
    testcases ran) ended with a UnicodeEncodeError, and the --json asked
    for after it was never written.
    """
    results = copy_results(tmp_path)
    odd = tmp_path / os.fsdecode(b"r\xe9sultats")
    results.rename(odd)
    code, _, err = run_report([str(odd / "new"), "--html", "report.html", "--json", "report.json"], tmp_path)
    assert (code, "Traceback" in err) == (0, False), err
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert f"<title>e3suite report: {tmp_path}/r\\xe9sultats/new</title>" in text
    assert (tmp_path / "report.json").exists()


def _browser_available() -> bool:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    return os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)


@pytest.fixture
def browser() -> Iterator[object]:
    if not _browser_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser test: {CHROMIUM}, {CHROMEDRIVER} or selenium is missing")
        pytest.skip("no chromium/chromedriver/selenium here (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--window-size=1280,1600"):
        options.add_argument(flag)
    # An explicit chromedriver: Selenium must not try to download one.
    service = Service(CHROMEDRIVER)
    driver = webdriver.Chrome(service=service, options=options)
    processes = [psutil.Process(service.process.pid)]
    processes += processes[0].children(recursive=True)
    try:
        yield driver
    finally:
        driver.quit()
        # Nothing the browser started survives the test.
        _, alive = psutil.wait_procs(processes, timeout=10)
        for process in alive:
            process.kill()
        assert not alive, f"browser processes survived: {alive}"


def test_html_in_a_real_browser(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    page = fixture_html(tmp_path)
    browser.get(page.as_uri())

    def text(element_id: str) -> str:
        return browser.find_element(By.ID, element_id).text  # type: ignore[no-any-return]

    def shown() -> list[str]:
        rows = browser.find_elements(By.CSS_SELECTOR, "tr.result")
        return [r.get_attribute("data-id") for r in rows if r.is_displayed()]

    # Counts and the comparison, first thing on the page.
    assert [text(f"count-{k}") for k in ("total", "passed", "failed", "skipped")] == [
        "10 testcases", "6 passed", "2 failed", "2 skipped",
    ]
    assert text("change-new_failures") == "New failures (1)\na/breaks: FAIL (was PASS) \u2014 output differs"
    assert "gone/t (was PASS)" in text("change-removed")
    assert text("shown-count") == "10 of 10 testcases shown"

    # Filter by verdict: hide PASS, then FAIL.
    browser.find_element(By.CSS_SELECTOR, '.verdict-toggle[data-status="PASS"]').click()
    assert text("shown-count") == "7 of 10 testcases shown"
    browser.find_element(By.CSS_SELECTOR, '.verdict-toggle[data-status="FAIL"]').click()
    assert "a/breaks" not in shown() and "a/still-broken" in shown()
    for status in ("PASS", "FAIL"):
        browser.find_element(By.CSS_SELECTOR, f'.verdict-toggle[data-status="{status}"]').click()

    # Filter by text (ids and messages).
    box = browser.find_element(By.ID, "filter-text")
    box.send_keys("x/")
    assert shown() == ["x/xpass", "x/verify", "x/na"]
    box.clear()
    box.send_keys("GPU")
    assert shown() == ["a/now-skipped"]
    box.send_keys("\b" * 3)
    assert len(shown()) == 10

    # Sort by duration: slowest first.
    browser.find_element(By.ID, "sort-duration").click()
    assert shown()[:2] == ["perf/slow", "a/breaks"]

    # Expand a row: message, diff and log, the log's markup shown as text.
    browser.find_element(By.CSS_SELECTOR, 'tr.result[data-id="a/breaks"]').click()
    detail = browser.find_element(By.CSS_SELECTOR, "tr.detail")
    assert "Message: output differs" in detail.text
    assert detail.find_element(By.CSS_SELECTOR, "pre.diff").text.endswith("-hello\n+hullo")
    log = detail.find_element(By.CSS_SELECTOR, "pre.log").text
    assert log.startswith("running <script>alert('x')</script> & more")

    # The timeline: two slots, one bar per fragment.
    assert len(browser.find_elements(By.CSS_SELECTOR, "#timeline .lane")) == 2
    assert len(browser.find_elements(By.CSS_SELECTOR, "#timeline .frag")) == 10

    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    # Kept for a person to look at: pytest prints tmp_path on failure.
    if os.environ.get("E3SUITE_SCREENSHOT_DIR"):
        shutil.copy(shot, os.environ["E3SUITE_SCREENSHOT_DIR"])


def test_hostile_output_does_not_run(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    browser.get(hostile_html(tmp_path).as_uri())
    assert browser.execute_script("return window.pwned === undefined")
    row = browser.find_element(By.CSS_SELECTOR, "tr.result")
    assert row.get_attribute("data-id") == f"evil/{HOSTILE}"
    row.click()
    assert browser.find_element(By.CSS_SELECTOR, "pre.log").text == HOSTILE
    assert browser.execute_script("return window.pwned === undefined")
    assert len(browser.find_elements(By.TAG_NAME, "img")) == 0


def test_the_timeline_leaves_out_carried_over_results(tmp_path: Path) -> None:
    """A --failed run's timeline drew the previous run's fragments of carried-over results.

    Their bars stretched the time axis back to that run (this run's shrank to
    nothing) and, after a merge, sat on slots no machine had. The page's
    script runs under node with a small DOM (tests/unit/data/dom_shim.js).
    """
    import json
    import subprocess

    from e3suite.model import FragmentRecord, FragmentState
    from e3suite.reports.html_assets import SCRIPT
    from e3suite.reports.json_report import report_document

    node = shutil.which("node")
    if node is None:
        pytest.skip("no node here to run the page's script")
    ran = TestResult("ran", TestStatus.FAIL, "wrong")
    ran.fragments = [FragmentRecord("run", FragmentState.COMPLETE, 0, 5000.0, 5001.0)]
    kept = TestResult("kept", TestStatus.PASS)
    kept.fragments = [FragmentRecord("run", FragmentState.COMPLETE, 7, 1000.0, 1002.0)]
    kept.carried_over = True
    report = RunReport(tmp_path, {"jobs": 1}, [kept, ran], True)
    (tmp_path / "data.json").write_text(json.dumps(report_document(report)))
    (tmp_path / "page.js").write_text(SCRIPT)
    drawn = subprocess.run(
        [node, str(DATA / "dom_shim.js"), str(tmp_path / "data.json"), str(tmp_path / "page.js")],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert json.loads(drawn.stdout) == {"lanes": ["slot 0"], "bars": ["ran:run COMPLETE 1.00s"]}


def test_the_page_of_a_run_still_going_says_so(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Read while its run went on, the page said "The run did not finish", as for a killed run."""
    from selenium.webdriver.common.by import By
    from test_live_report import make_run

    from e3suite.reports.data import load_report

    results = make_run(tmp_path / "new", 2000.0, {"done": TestStatus.PASS}, live=True)
    page = tmp_path / "live.html"
    page.write_text(render_html(load_report(results)), encoding="utf-8")
    browser.get(page.as_uri())
    meta = browser.find_element(By.ID, "meta").text
    assert "The run is still going: 1 testcase running, 1 waiting (results so far)." in meta
    assert "did not finish" not in meta


def test_carried_over_results_have_their_verdict_toggle(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A --failed run's page listed the carried-over results, but its toggles came from by_status, which
    leaves them out: a carried-over PASS, SKIP or XFAIL had no toggle and could not be hidden."""
    from selenium.webdriver.common.by import By

    kept = [TestResult("kept/pass", TestStatus.PASS), TestResult("kept/skip", TestStatus.SKIP, "no GPU")]
    for result in kept:
        result.carried_over = True
    results = [*kept, TestResult("ran/fail", TestStatus.FAIL, "wrong"), TestResult("ran/pass", TestStatus.PASS)]
    page = tmp_path / "failed.html"
    page.write_text(render_html(RunReport(tmp_path, {"jobs": 1}, results, True)), encoding="utf-8")
    browser.get(page.as_uri())
    assert browser.find_element(By.ID, "verdict-filters").text == "PASS 2FAIL 1SKIP 1"
    assert browser.find_element(By.ID, "count-carried-over").text == "2 carried over"
    assert browser.find_element(By.ID, "count-passed").text == "1 passed"  # as the summary line counts
    browser.find_element(By.CSS_SELECTOR, '.verdict-toggle[data-status="SKIP"]').click()
    browser.find_element(By.CSS_SELECTOR, '.verdict-toggle[data-status="PASS"]').click()
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.result")
    assert [r.get_attribute("data-id") for r in rows if r.is_displayed()] == ["ran/fail"]
    assert browser.find_element(By.ID, "shown-count").text == "1 of 4 testcases shown"


def test_durations_round_to_the_next_minute(tmp_path: Path) -> None:
    """A fragment of 119.96 s was drawn as "1m60.0s" (the seconds rounded after the minutes were taken)."""
    import json
    import subprocess

    from e3suite.model import FragmentRecord, FragmentState
    from e3suite.reports.html_assets import SCRIPT
    from e3suite.reports.json_report import report_document

    node = shutil.which("node")
    if node is None:
        pytest.skip("no node here to run the page's script")
    results = []
    for name, seconds in (("a", 119.96), ("b", 59.999), ("c", 61.25), ("d", 12.3)):
        result = TestResult(name, TestStatus.PASS)
        result.fragments = [FragmentRecord("run", FragmentState.COMPLETE, 0, 1000.0, 1000.0 + seconds)]
        results.append(result)
    (tmp_path / "data.json").write_text(json.dumps(report_document(RunReport(tmp_path, {"jobs": 1}, results, True))))
    (tmp_path / "page.js").write_text(SCRIPT)
    drawn = subprocess.run(
        [node, str(DATA / "dom_shim.js"), str(tmp_path / "data.json"), str(tmp_path / "page.js")],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert json.loads(drawn.stdout)["bars"] == [
        "a:run COMPLETE 2m0.0s", "b:run COMPLETE 1m0.0s", "c:run COMPLETE 1m1.3s", "d:run COMPLETE 12.30s",
    ]


def test_the_page_of_an_interrupted_shard_says_so(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A Ctrl-C'd run's page did not say it was interrupted (its SKIP "not run: interrupted" rows read as skips),
    nor which shard it was."""
    from selenium.webdriver.common.by import By

    results = [TestResult("ran", TestStatus.PASS), TestResult("later", TestStatus.SKIP, "not run: interrupted")]
    report = RunReport(tmp_path, {"jobs": 1, "interrupted": True, "shard": "2/4"}, results, True)
    page = tmp_path / "interrupted.html"
    page.write_text(render_html(report), encoding="utf-8")
    browser.get(page.as_uri())
    meta = browser.find_element(By.ID, "meta").text
    assert "shard: 2/4" in meta and meta.endswith("The run was interrupted: 1 testcase not run.")


def test_a_long_comparison_shows_its_first_twenty_per_category(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Compared with an unrelated run, the box listed every one of its "new testcases": the table went out of
    sight. Now each category shows 20, as the terminal does, and folds the rest."""
    from selenium.webdriver.common.by import By

    from e3suite.reports.compare import Outcome, compare

    results = [TestResult(f"t{i:02}", TestStatus.PASS) for i in range(25)]
    report = RunReport(tmp_path, {"jobs": 1}, results, True)
    report.comparison = compare([Outcome(r.test_id, TestStatus.PASS) for r in results],
                                [Outcome("gone", TestStatus.PASS)], "old")
    page = tmp_path / "long.html"
    page.write_text(render_html(report), encoding="utf-8")
    browser.get(page.as_uri())
    block = browser.find_element(By.ID, "change-new")
    shown = [li.text for li in block.find_elements(By.CSS_SELECTOR, "li") if li.is_displayed()]
    assert shown == [f"t{i:02}: PASS" for i in range(20)]
    more = block.find_element(By.CSS_SELECTOR, "details.more-changes summary")
    assert more.text == "... and 5 more"
    more.click()
    assert [li.text for li in block.find_elements(By.CSS_SELECTOR, "li") if li.is_displayed()][20:] == [
        f"t{i:02}: PASS" for i in range(20, 25)
    ]
    assert browser.find_element(By.ID, "change-removed").text == "Removed testcases (1)\ngone (was PASS)"
