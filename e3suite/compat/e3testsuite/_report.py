"""e3-testsuite's ``Testsuite.report_index``, read from e3suite's results.

e3-testsuite testsuites read ``self.report_index`` (``entries``, by result
name, each with ``status``, ``msg``, ``failure_reasons``, ``time``,
``info``; ``status_counters``; ``duration``) in ``tear_down`` to print or
write reports of their own. Here the index is built once from the results
e3suite's engine decided, under the names e3-testsuite gave them
(``info["e3_name"]``). This module only maps data: it never reads or writes
the results directory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from e3suite.compat.e3testsuite.result import FailureReason, TestResultSummary, TestStatus
from e3suite.reports.junit import e3_message

#: what no e3-testsuite status names: e3suite's FLAKY is a pass
_STATUSES = {"FLAKY": TestStatus.PASS}


@dataclass
class ReportIndexEntry:
    """One result of the run, as e3-testsuite's index holds it."""

    index: ReportIndex
    summary: TestResultSummary
    filename: str | None = None  # e3suite's records are not e3-testsuite's files

    @property
    def test_name(self) -> str:
        return self.summary.test_name

    @property
    def status(self) -> TestStatus:
        return self.summary.status

    @property
    def msg(self) -> str | None:
        return self.summary.msg

    @property
    def failure_reasons(self) -> set[FailureReason]:
        return self.summary.failure_reasons

    @property
    def time(self) -> float | None:
        return self.summary.time

    @property
    def info(self) -> dict[str, str]:
        return self.summary.info


class ReportIndex:
    """The results of a run by name, and how many of each status."""

    def __init__(self, results_dir: str) -> None:
        self.results_dir = results_dir
        self.entries: dict[str, ReportIndexEntry] = {}
        self.status_counters = {s: 0 for s in TestStatus}
        self.duration: float | None = None

    def add_result(self, summary: TestResultSummary, filename: str | None = None) -> None:
        self.entries[summary.test_name] = ReportIndexEntry(self, summary, filename)
        self.status_counters[summary.status] += 1

    @property
    def has_failures(self) -> bool:
        return self.status_counters[TestStatus.FAIL] > 0 or self.status_counters[TestStatus.ERROR] > 0


def fill(index: ReportIndex, results: Iterable[Any], e3_names: dict[str, str]) -> None:
    """Add e3suite's ``results`` to ``index`` (``e3_names``: test id -> e3 name of its testcase)."""
    for result in results:
        name = result.info.get("e3_name")
        if name is None:
            if result.status is not None and result.status.name == "NOT_APPLICABLE" and (
                result.message == "no result pushed"
            ):
                continue  # e3-testsuite has no result for a testcase that pushed none
            name = e3_names.get(result.test_id, result.test_id.replace("/", "__"))
        status_name = result.status.name if result.status is not None else "ERROR"
        status = _STATUSES.get(status_name) or TestStatus[status_name]
        reasons = {FailureReason[r.name] for r in result.failure_reasons if r.name in FailureReason.__members__}
        info = {str(k): str(v) for k, v in result.info.items() if k != "e3_name"}
        message = e3_message(result.message, str(name))
        index.add_result(TestResultSummary(str(name), status, message or None, reasons, result.duration, info))
