"""The JSON report: a documented, versioned document built from a RunReport.

The document's shape is ``SCHEMA`` (JSON Schema, draft 2020-12), and
docs/reports.md explains each field. ``version`` changes whenever a field
is removed or changes meaning; adding an optional field keeps the version.
Consumers must check ``format`` and ``version``.

This module never reads the results directory (data.py does) and never
decides anything: it renders.
"""

from __future__ import annotations

import json
from typing import Any

from e3suite.model import TestResult, TestStatus
from e3suite.reports.compare import CATEGORIES
from e3suite.reports.data import RunReport, display_log, log_excerpt, unfinished

FORMAT = "e3suite-report"
VERSION = 1

_NUMBER_OR_NULL = {"type": ["number", "null"]}
_STRING_OR_NULL = {"type": ["string", "null"]}
_STATUS = {"enum": [status.value for status in TestStatus]}
_CHANGE = {
    "type": "object",
    "required": ["id", "status", "old_status", "message", "duration", "old_duration"],
    "properties": {
        "id": {"type": "string"},
        "status": {"anyOf": [_STATUS, {"type": "null"}]},
        "old_status": {"anyOf": [_STATUS, {"type": "null"}]},
        "message": {"type": "string"},
        "duration": _NUMBER_OR_NULL,
        "old_duration": _NUMBER_OR_NULL,
    },
}
_CATEGORY_NAMES = tuple(name for name, _ in CATEGORIES)

#: The JSON Schema of version 1 of the document.
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "e3suite report",
    "type": "object",
    "required": ["format", "version", "run", "counts", "comparison", "testcases"],
    "properties": {
        "format": {"const": FORMAT},
        "version": {"const": VERSION},
        "run": {
            "type": "object",
            "required": [
                "results_dir", "complete", "start", "end", "duration", "argv", "cwd",
                "version", "host", "python", "jobs", "tests_dir", "interrupted",
            ],
            "properties": {
                "results_dir": {"type": "string"},
                "complete": {"type": "boolean"},
                # True: the run is still going (testcases without a verdict are running or waiting).
                "live": {"type": "boolean"},
                "start": _NUMBER_OR_NULL,
                "end": _NUMBER_OR_NULL,
                "duration": _NUMBER_OR_NULL,
                "argv": {"type": ["array", "null"], "items": {"type": "string"}},
                "cwd": _STRING_OR_NULL,
                "version": _STRING_OR_NULL,
                "host": _STRING_OR_NULL,
                "python": _STRING_OR_NULL,
                "jobs": {"type": ["integer", "null"]},
                "tests_dir": _STRING_OR_NULL,
                "interrupted": {"type": ["boolean", "null"]},
                # A shard's run (--shard K/N): which part, and how the split was made.
                "shard": _STRING_OR_NULL,
                "shard_by": _STRING_OR_NULL,
                "flaky_result": _STRING_OR_NULL,
                # What the run ran of the testcases: its arguments, --failed, --shard=K/N, --merge-partial=N missing.
                "selection": {"type": ["array", "null"], "items": {"type": "string"}},
            },
        },
        "counts": {
            "type": "object",
            "required": ["total", "passed", "failed", "skipped", "by_status"],
            "properties": {
                "total": {"type": "integer"},
                "passed": {"type": "integer"},
                "failed": {"type": "integer"},
                "skipped": {"type": "integer"},
                "by_status": {"type": "object", "additionalProperties": {"type": "integer"}},
            },
        },
        "comparison": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["old_dir", "old_count", "slowdown_threshold", "min_slowdown_seconds",
                                 *_CATEGORY_NAMES],
                    "properties": {
                        "old_dir": {"type": "string"},
                        "old_count": {"type": "integer"},
                        "slowdown_threshold": {"type": "number"},
                        "min_slowdown_seconds": {"type": "number"},
                        **{name: {"type": "array", "items": _CHANGE} for name in _CATEGORY_NAMES},
                    },
                },
            ]
        },
        "testcases": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "id", "status", "message", "failure_reasons", "duration", "start", "end",
                    "cpu", "peak_rss", "log", "log_truncated", "diff", "change", "fragments", "info",
                    "attempts", "attempts_allowed", "carried_over",
                ],
                "properties": {
                    "id": {"type": "string"},
                    # null: no verdict yet, in a run still going ("message": "running" or "waiting")
                    "status": {"anyOf": [_STATUS, {"type": "null"}]},
                    "message": {"type": "string"},
                    "failure_reasons": {"type": "array", "items": {"type": "string"}},
                    "duration": _NUMBER_OR_NULL,
                    "start": _NUMBER_OR_NULL,
                    "end": _NUMBER_OR_NULL,
                    "cpu": _NUMBER_OR_NULL,  # CPU seconds of its commands
                    "peak_rss": {"type": ["integer", "null"]},  # bytes: the largest of its commands' peaks
                    "log": {"type": "string"},
                    "log_truncated": {"type": "boolean"},
                    "diff": _STRING_OR_NULL,
                    "change": {"enum": [None, *_CATEGORY_NAMES]},
                    "fragments": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name", "state", "slot", "start", "end"],
                            "properties": {
                                "name": {"type": "string"},
                                "state": {"type": "string"},
                                "slot": {"type": ["integer", "null"]},
                                "start": _NUMBER_OR_NULL,
                                "end": _NUMBER_OR_NULL,
                                # Present when not the first: the attempt (retries) it ran in.
                                "attempt": {"type": "integer", "minimum": 2},
                            },
                        },
                    },
                    "info": {"type": "object"},
                    # Every attempt when it was tried more than once (retries), else empty.
                    "attempts": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["number", "status", "message", "duration", "start", "end", "log"],
                            "properties": {
                                "number": {"type": "integer"},
                                "status": _STATUS,
                                "message": {"type": "string"},
                                "duration": {"type": "number"},
                                "start": _NUMBER_OR_NULL,
                                "end": _NUMBER_OR_NULL,
                                "log": {"type": "string"},
                            },
                        },
                    },
                    "attempts_allowed": {"type": "integer"},
                    # Not run by this run (--failed): the previous run's result.
                    "carried_over": {"type": "boolean"},
                },
            },
        },
    },
}

_RUN_KEYS = (
    "start", "end", "duration", "argv", "cwd", "version", "host", "python", "jobs", "tests_dir", "interrupted",
    "shard", "shard_by", "flaky_result", "selection",
)


def testcase_json(result: TestResult, change: str | None) -> dict[str, Any]:
    # A driver that ran commands (ctx.shell) and logged nothing: its commands, as -E and JUnit show them
    # (the HTML page, built from this document, showed "Log: (empty)" under such a FAIL).
    log, cut = log_excerpt(display_log(result))
    diff = log_excerpt(result.diff)[0] if result.diff else result.diff
    return {
        "id": result.test_id,
        "status": result.status.value if result.status else (None if unfinished(result) else "ERROR"),
        "message": result.message,
        "failure_reasons": sorted(r.value for r in result.failure_reasons),
        "duration": result.duration,
        "start": result.start,
        "end": result.end,
        "cpu": result.cpu_time,
        "peak_rss": result.peak_rss,
        "log": log,
        "log_truncated": cut,
        "diff": diff,
        "change": change,
        "fragments": [f.to_json() for f in result.fragments],
        "info": result.info if isinstance(result.info, dict) else {},
        "attempts": [
            {
                "number": a.number, "status": a.status.value, "message": a.message, "duration": a.duration,
                "start": a.start, "end": a.end, "log": log_excerpt(a.log)[0],
            }
            for a in result.attempts
        ],
        "attempts_allowed": result.attempts_allowed,
        "carried_over": result.carried_over,
    }


def report_document(report: RunReport) -> dict[str, Any]:
    """The JSON report of ``report`` as a JSON-ready dict (see SCHEMA)."""
    run: dict[str, Any] = {"results_dir": str(report.path), "complete": report.complete, "live": report.live}
    for key in _RUN_KEYS:
        run[key] = report.run.get(key)
    for key in ("argv", "selection"):
        if not isinstance(run[key], list):
            run[key] = None
    changes = report.comparison.change_of() if report.comparison else {}
    return {
        "format": FORMAT,
        "version": VERSION,
        "run": run,
        "counts": report.counts(),
        "comparison": report.comparison.to_json() if report.comparison else None,
        "testcases": [testcase_json(r, changes.get(r.test_id)) for r in report.results],
    }


def render_json(report: RunReport) -> str:
    # Compact separators: 10,000 testcases make a large file, and the
    # document is for programs; `python -m json.tool` makes it readable.
    # ASCII: a lone surrogate from an undecodable log must not break the write.
    return json.dumps(report_document(report), separators=(",", ":")) + "\n"
