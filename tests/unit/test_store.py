"""Unit tests of e3suite.store (writing side): names, rotation, journal, index."""

from __future__ import annotations

import json
from pathlib import Path

from e3suite import store
from e3suite.model import TestResult, TestStatus


def test_record_names_are_unambiguous_and_stable() -> None:
    names = {store.record_name(i) for i in ("a/b", "a%2Fb", "a_b", "a b", "x[opt=O2,arch=arm]")}
    assert len(names) == 5
    assert store.record_name("a/b") == "a%2Fb.json"
    long = store.record_name("x" * 400)
    assert len(long) < 255 and long == store.record_name("x" * 400)


def test_rotation_keeps_one_previous_run(tmp_path: Path) -> None:
    for marker in ("one", "two", "three"):
        new = store.rotate(tmp_path)
        (new / "marker").write_text(marker)
    assert (tmp_path / "new" / "marker").read_text() == "three"
    assert (tmp_path / "old" / "marker").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "old"]


def test_journal_is_readable_before_close_and_index_rebuilds(tmp_path: Path) -> None:
    writer = store.ResultsWriter(tmp_path)
    writer.journal.write("run_started", start=1.0, jobs=2)
    for test in ("a", "b"):
        writer.journal.write("test_discovered", test=test)
    writer.write_result(TestResult("a", TestStatus.PASS, "fine", duration=0.5))
    # Not closed, no index: as after a SIGKILL.
    with open(tmp_path / "journal.jsonl", "a") as f:
        f.write('{"event": "test_res')  # a torn last line
    run = store.load_run(tmp_path)
    assert not run.complete and run.run["jobs"] == 2
    assert [(e["test"], e["status"]) for e in run.entries] == [("a", "PASS"), ("b", "ERROR")]
    assert store.load_record(run, run.entries[0]).message == "fine"
    writer.write_index({"start": 1.0})
    writer.close()
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["format"] == "e3suite-index" and index["results"][0]["record"] == "results/a.json"
