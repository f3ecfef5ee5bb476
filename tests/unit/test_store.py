"""Unit tests of e3suite.store (writing side) and of the rotation (e3suite.output_dir): names, journal, index."""

from __future__ import annotations

import json
from pathlib import Path

from e3suite import output_dir, store
from e3suite.model import TestResult, TestStatus


def test_record_names_are_unambiguous_and_stable() -> None:
    names = {store.record_name(i) for i in ("a/b", "a%2Fb", "a_b", "a b", "x[opt=O2,arch=arm]")}
    assert len(names) == 5
    assert store.record_name("a/b") == "a%2Fb.json"
    long = store.record_name("x" * 400)
    assert len(long) < 255 and long == store.record_name("x" * 400)


def test_rotation_keeps_one_previous_run(tmp_path: Path) -> None:
    for marker in ("one", "two", "three"):
        new = output_dir.rotate(tmp_path)
        (new / "marker").write_text(marker)
    assert (tmp_path / "new" / "marker").read_text() == "three"
    assert (tmp_path / "old" / "marker").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "new", "old"]


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
    assert index["format"] == "e3suite-index" and index["results"][0]["record"] == "journal.jsonl"
    assert not (tmp_path / store.RECORDS).exists()  # no file per record (see store's docstring)


def test_rotation_recycles_the_run_before_last_and_empties_it(tmp_path: Path) -> None:
    """The run before last's directory becomes the new run's, with nothing of it left (its record files either)."""
    for run in range(3):
        new = output_dir.rotate(tmp_path)
        (new / "junit.xml").write_text(f"run {run}")
        if run == 0:  # as e3suite wrote records before they went in the journal
            (new / store.RECORDS).mkdir()
            (new / store.RECORDS / "gone.json").write_text("{}")
        writer = store.ResultsWriter(new)
        for test in ("a", "b"):
            writer.write_result(TestResult(test, TestStatus.PASS, f"run {run}"))
        writer.close()
    new = tmp_path / "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "new", "old"]
    assert sorted(p.name for p in new.iterdir()) == ["journal.jsonl", "junit.xml"]
    assert (new / "junit.xml").read_text() == "run 2"
    run2 = store.load_run(new)
    assert [store.load_record(run2, e).message for e in run2.entries] == ["run 2", "run 2"]
    assert (tmp_path / "old" / "junit.xml").read_text() == "run 1"


def test_a_directory_of_record_files_is_still_read(tmp_path: Path) -> None:
    """Written by e3suite before records went in the journal: the index points at results/<name>.json."""
    record = TestResult("a/b", TestStatus.FAIL, "from its file")
    (tmp_path / store.RECORDS).mkdir()
    (tmp_path / store.RECORDS / store.record_name("a/b")).write_text(json.dumps(record.to_json()))
    entry = store.index_entry(record, f"{store.RECORDS}/{store.record_name('a/b')}")
    store.write_index(tmp_path, {"start": 1.0}, [entry])
    run = store.load_run(tmp_path)
    assert store.load_record(run, run.entries[0]).message == "from its file"
    assert store.load_records(tmp_path)["a/b"]["message"] == "from its file"


def test_a_killed_run_ignores_records_of_the_run_it_recycled(tmp_path: Path) -> None:
    """In a directory of record files (see test_a_directory_of_record_files_is_still_read)."""
    import os
    import time

    writer = store.ResultsWriter(tmp_path)
    (tmp_path / store.RECORDS).mkdir()
    start = time.time()
    writer.journal.write("run_started", start=start, jobs=1)
    for test in ("fresh", "stale"):
        writer.journal.write("test_discovered", test=test)
        record = TestResult(test, TestStatus.PASS, "from a record")
        (tmp_path / store.RECORDS / store.record_name(test)).write_text(json.dumps(record.to_json()))
    # "stale" was written by the run before last, whose directory this run recycled.
    os.utime(tmp_path / store.RECORDS / store.record_name("stale"), (start - 3600, start - 3600))
    run = store.load_run(tmp_path)  # killed: no index, no test_result lines
    assert [(e["test"], e["status"]) for e in run.entries] == [("fresh", "PASS"), ("stale", "ERROR")]
    writer.close()


def test_a_record_written_twice_reads_as_the_last(tmp_path: Path) -> None:
    writer = store.ResultsWriter(tmp_path)
    writer.write_result(TestResult("a", TestStatus.FAIL, "x" * 5000))
    writer.write_result(TestResult("a", TestStatus.PASS, "short"))
    writer.close()
    assert store.load_records(tmp_path)["a"]["message"] == "short"


def test_rotation_survives_odd_leftovers(tmp_path: Path) -> None:
    """An interrupted rotation's spare directory, or an 'old' that is a file, does not stop a run."""
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "marker").write_text("previous")
    (tmp_path / "old").write_text("not a directory")
    (tmp_path / ".recycling").mkdir()
    (tmp_path / ".recycling" / "junk").write_text("x")
    new = output_dir.rotate(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "new", "old"]
    assert (tmp_path / "old" / "marker").read_text() == "previous"
    assert list(new.iterdir()) == []


def test_background_writes_keep_their_order_and_are_all_there_at_close(tmp_path: Path) -> None:
    from e3suite import events

    new = output_dir.rotate(tmp_path)
    writer = store.ResultsWriter(new, background=True)
    writer.run_started(events.RunStarted({"start": 1.0, "jobs": 2}))
    for i in range(200):
        writer.test_discovered(events.TestDiscovered(f"t{i:03d}"))
    for i in range(200):
        writer.write_result(TestResult(f"t{i:03d}", TestStatus.PASS, f"number {i}", duration=0.01))
        if i % 7 == 0:
            writer.housekeeping(0.0)  # the engine hands a batch over once per turn
    writer.write_index({"start": 1.0})
    writer.close()
    lines = [json.loads(line) for line in (new / "journal.jsonl").read_text().splitlines()]
    kinds = [line["event"] for line in lines]
    assert kinds == ["run_started"] + ["test_discovered"] * 200 + ["test_result"] * 200
    assert [line["test"] for line in lines if line["event"] == "test_result"] == [f"t{i:03d}" for i in range(200)]
    run = store.load_run(new)
    assert run.complete and len(run.entries) == 200
    assert store.load_record(run, run.entries[199]).message == "number 199"


def test_a_background_write_that_raises_stops_the_writes_and_says_why(tmp_path: Path) -> None:
    new = output_dir.rotate(tmp_path)
    writer = store.ResultsWriter(new, background=True)
    writer.write_result(TestResult("a", TestStatus.PASS, "fine"))
    writer._line("bad", value=object())  # not JSON: a bug somewhere, not a disk problem
    writer.write_result(TestResult("b", TestStatus.PASS, "fine"))
    writer.drain()
    assert writer.error is not None and "TypeError" in writer.error
    writer.write_index({"start": 1.0})
    writer.close()
    assert not (new / "index.json").exists()
    assert set(store.load_records(new)) == {"a"}


def test_a_batch_of_journal_lines_is_one_write_with_its_records(tmp_path: Path, monkeypatch) -> None:
    import os

    from e3suite import events

    new = output_dir.rotate(tmp_path)
    writer = store.ResultsWriter(new, background=True)
    journal_fd = writer.journal._fd
    real_write = os.write
    writes: list[bytes] = []

    def counting_write(fd: int, data: bytes) -> int:
        if fd == journal_fd:
            writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(store.os, "write", counting_write)
    for i in range(50):
        writer.test_discovered(events.TestDiscovered(f"t{i}"))
    for i in range(3):
        writer.write_result(TestResult(f"t{i}", TestStatus.PASS, "fine"))
    writer.housekeeping(0.0)
    writer.drain()
    assert len(writes) == 1 and writes[0].count(b"\n") == 53 and writes[0].endswith(b"\n")
    writer.close()
    assert [json.loads(line)["event"] for line in (new / "journal.jsonl").read_text().splitlines()] == (
        ["test_discovered"] * 50 + ["test_result"] * 3
    )
    assert [r["message"] for r in store.load_records(new).values()] == ["fine"] * 3  # the records are the lines


def test_a_start_killed_before_its_first_journal_line_does_not_push_out_the_last_run(tmp_path: Path) -> None:
    """Killed between the rotation and its first journal line, a run leaves DIR/new with no run in it.

    The next rotation moved that empty directory to DIR/old and recycled the last real run: the
    comparison, --failed and the history (priorities) lost it.
    """
    last = output_dir.rotate(tmp_path)
    writer = store.ResultsWriter(last)
    writer.journal.write("run_started", start=1.0)
    writer.write_result(TestResult("a", TestStatus.FAIL, "the last real run"))
    writer.write_index({"start": 1.0})
    writer.close()
    output_dir.rotate(tmp_path)  # ... and the engine is killed here, before writing anything
    assert not (tmp_path / "new" / store.JOURNAL).exists()
    new = output_dir.rotate(tmp_path)
    old = store.load_run(tmp_path / "old")
    assert [(e["test"], e["message"]) for e in old.entries] == [("a", "the last real run")]
    # ... and this one is killed in its set-up: its journal says it started, nothing more.
    (new / store.JOURNAL).write_text('{"event":"run_started","start":2.0}\n')
    new = output_dir.rotate(tmp_path)
    old = store.load_run(tmp_path / "old")
    assert [(e["test"], e["message"]) for e in old.entries] == [("a", "the last real run")]
    # ... and this one's set-up stopped it (a usage error): it started and ended, with no testcase.
    (new / store.JOURNAL).write_text('{"event":"run_started","start":3.0}\n{"event":"run_ended","end":3.1}\n')
    store.write_index(new, {"start": 3.0}, [])
    new = output_dir.rotate(tmp_path)
    old = store.load_run(tmp_path / "old")
    assert [(e["test"], e["message"]) for e in old.entries] == [("a", "the last real run")]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "new", "old"]
    assert list(new.iterdir()) == []


def test_a_run_before_last_that_cannot_be_emptied_does_not_stop_the_run(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Recycling it failed after DIR/new had moved to DIR/old: the run stopped with 'Permission denied'
    and left no DIR/new, so e3suite report and --failed found no last run."""
    for marker in ("before last", "last"):
        new = output_dir.rotate(tmp_path)
        (new / "marker").write_text(marker)
    real_remove = store.remove_path

    def refuse(path: Path) -> None:
        if output_dir._RECYCLING in path.parts:
            raise PermissionError(13, "Permission denied", str(path))
        real_remove(path)

    monkeypatch.setattr(store, "remove_path", refuse)
    new = output_dir.rotate(tmp_path)
    assert (tmp_path / "old" / "marker").read_text() == "last"
    assert list(new.iterdir()) == []  # a fresh one
    monkeypatch.setattr(store, "remove_path", real_remove)
    output_dir.rotate(tmp_path)  # the leftover goes at the next start
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "new", "old"]


def test_journal_lines_without_a_testcase_id_are_skipped(tmp_path: Path) -> None:
    """A line damaged by hand ("test": null, a number) made a phantom testcase named "None" or "5"."""
    lines = [
        {"event": "run_started", "start": 1.0},
        {"event": "test_discovered", "test": "a"},
        {"event": "test_discovered", "test": None},
        {"event": "test_result", "test": 5, "status": "PASS"},
        {"event": "test_result", "test": "", "status": "PASS"},
        {"event": "test_result", "test": "a", "status": "PASS", "message": "", "duration": 0.1, "record": None},
    ]
    (tmp_path / store.JOURNAL).write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert [(e["test"], e["status"]) for e in store.load_run(tmp_path).entries] == [("a", "PASS")]


def test_a_new_or_old_directory_that_holds_no_results_is_never_moved_nor_emptied(tmp_path: Path) -> None:
    """``-o .`` in a project with its own ``old/`` (or ``-o tests`` with a testcase named ``old``): the second
    run recycled it, deleting every file in it."""
    import pytest

    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "precious.c").write_text("int main;")
    with pytest.raises(output_dir.OutputDirError, match=r"old is not a results directory .* move it away"):
        output_dir.rotate_output_dir(tmp_path)
    assert (tmp_path / "old" / "precious.c").read_text() == "int main;"
    assert not (tmp_path / "new").exists()
    (tmp_path / "old" / "precious.c").unlink()  # empty, or e3-testsuite's results: the rotation may go on
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "_index.json").write_text("{}")
    output_dir.rotate_output_dir(tmp_path)
    assert (tmp_path / "old" / "_index.json").exists()


def test_the_index_holds_one_result_per_line(tmp_path: Path) -> None:
    """What docs/index.md says of index.json, and what `grep` on it relies on; it is JSON all the same."""
    entries = [{"test": "a", "status": "PASS"}, {"test": 'b\n"c', "status": None, "message": "é"}]
    store.write_index(tmp_path, {"jobs": 2, "argv": ["x", "y"]}, entries)
    text = (tmp_path / store.INDEX).read_text()
    assert json.loads(text) == {
        "format": store.INDEX_FORMAT, "version": store.INDEX_VERSION, "run": {"jobs": 2, "argv": ["x", "y"]},
        "results": entries,
    }
    lines = text.splitlines()
    assert [json.loads(line.rstrip(",")) for line in lines if line.startswith('{"test"')] == entries
    store.write_index(tmp_path, {}, [])
    assert json.loads((tmp_path / store.INDEX).read_text())["results"] == []


def test_a_turn_without_a_record_is_written_at_once_and_never_ahead_of_the_writer(tmp_path: Path) -> None:
    """Fragment starts and ends alone need no wake-up of the writer thread, but keep their order."""
    import threading

    from e3suite import events
    from e3suite.model import FragmentState

    new = output_dir.rotate(tmp_path)
    writer = store.ResultsWriter(new, background=True)
    journal = new / "journal.jsonl"

    def started(name: str) -> events.FragmentStarted:
        return events.FragmentStarted(0, f"{name}:run", name, 1, 0, 1.0, 1234)

    writer.write_result(TestResult("first", TestStatus.PASS, "fine"))
    writer.housekeeping(0.0)
    writer.drain()
    writer.fragment_started(started("a"))
    writer.housekeeping(0.0)  # the writer is idle: written now, by this thread
    assert journal.read_text().splitlines()[-1].startswith('{"fragment":"a:run"')
    # The writer busy with a batch (held up here): the next turn goes behind it.
    gate = threading.Event()
    writer._queue(gate.wait)
    writer.write_result(TestResult("second", TestStatus.PASS, "fine"))
    writer.housekeeping(0.0)
    writer.fragment_ended(events.FragmentEnded(0, "b:run", "b", 1, FragmentState.COMPLETE, 0, 1.0, 2.0, None))
    writer.housekeeping(0.0)
    assert "b:run" not in journal.read_text()
    gate.set()
    writer.close()
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [(line["event"], line.get("test") or line.get("fragment")) for line in lines] == [
        ("test_result", "first"), ("fragment_started", "a:run"), ("test_result", "second"),
        ("fragment_ended", "b:run"),
    ]
