"""-j is the most slots a run may use, not a number of workers to start up front."""

from __future__ import annotations

import json
from pathlib import Path

from test_interrupt_run import finish, make_suite, mark, start


def started_pids(root: Path) -> set[int]:
    events = [json.loads(line) for line in (root / "out" / "new" / "journal.jsonl").read_text().splitlines()]
    return {e["pid"] for e in events if e["event"] == "fragment_started"}


def test_a_huge_j_is_clamped_with_a_message_and_starts_only_the_workers_needed(tmp_path: Path) -> None:
    text = mark()
    make_suite(tmp_path, {"a": {"cmd": "true"}, "b": {"cmd": "true"}})
    code, out = finish(start(tmp_path, "-j", "100000", "--progress", "none"), text)
    assert code == 0, out
    assert "e3suite: warning: -j 100000 is more than this machine can host (" in out
    assert "): running with -j " in out
    assert out.rstrip().endswith("e3suite: 2 passed, 0 failed, 0 skipped")
    assert len(started_pids(tmp_path)) <= 2


def test_workers_start_with_the_work_that_needs_them(tmp_path: Path) -> None:
    text = mark()
    make_suite(tmp_path, {"only": {"cmd": "true"}})
    code, out = finish(start(tmp_path, "-j", "8", "--progress", "none"), text)
    assert code == 0, out
    assert "warning" not in out
    assert len(started_pids(tmp_path)) == 1
