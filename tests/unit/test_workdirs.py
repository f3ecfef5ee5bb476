"""Working directories recycled when a finished testcase left its own empty.

What users rely on: every testcase starts in an empty working directory of
its own, with the mode a new one has, whatever the testcase before it did
in its own (wrote files, chmod'ed it); what --cleanup-mode keeps is kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from drivers_support import make_suite, run_suite

import e3suite.workdirs as workdirs


@pytest.fixture(autouse=True)
def no_spares() -> Iterator[None]:
    workdirs.forget_spares()
    yield
    workdirs.forget_spares()


def test_an_empty_directory_becomes_the_next_one(tmp_path: Path) -> None:
    first = tmp_path / "a"
    workdirs.make(first)
    inode = first.stat().st_ino
    assert workdirs.recycle(first)
    assert not first.exists()
    second = tmp_path / "b"
    workdirs.make(second)
    assert second.is_dir() and second.stat().st_ino == inode  # renamed, not made
    assert list(second.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir()] == ["b"]


def test_what_is_not_like_a_new_directory_is_not_recycled(tmp_path: Path) -> None:
    written = tmp_path / "written"
    workdirs.make(written)
    (written / "out.txt").write_text("x")
    assert not workdirs.recycle(written)
    assert (written / "out.txt").read_text() == "x"

    hidden = tmp_path / "hidden"
    workdirs.make(hidden)
    (hidden / ".dot").mkdir()
    assert not workdirs.recycle(hidden)

    chmoded = tmp_path / "chmoded"
    workdirs.make(chmoded)
    chmoded.chmod(0o700)
    assert not workdirs.recycle(chmoded)

    assert not workdirs.recycle(tmp_path / "missing")
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "missing")
    assert not workdirs.recycle(link)


def test_an_existing_directory_is_left_alone(tmp_path: Path) -> None:
    spare = tmp_path / "spare"
    workdirs.make(spare)
    assert workdirs.recycle(spare)
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep").write_text("k")
    workdirs.make(existing)
    assert (existing / "keep").read_text() == "k"
    # The spare is still there for the next one.
    fresh = tmp_path / "fresh"
    workdirs.make(fresh)
    assert fresh.is_dir() and sorted(p.name for p in tmp_path.iterdir()) == ["existing", "fresh"]


def test_a_nested_id_whose_parent_is_missing_gets_a_new_directory(tmp_path: Path) -> None:
    spare = tmp_path / "spare"
    workdirs.make(spare)
    assert workdirs.recycle(spare)
    nested = tmp_path / "group" / "case"
    workdirs.make(nested)
    assert nested.is_dir()
    later = tmp_path / "later"
    workdirs.make(later)  # the spare was kept
    assert not any(p.name.startswith(".e3suite-spare") for p in tmp_path.iterdir())


def test_spares_are_bounded(tmp_path: Path) -> None:
    paths = [tmp_path / f"d{i}" for i in range(workdirs.MAX_SPARES + 2)]
    for path in paths:
        workdirs.make(path)
    assert all(workdirs.recycle(path) for path in paths)
    # Past the bound, an empty directory is removed at once, not left for the end of the run.
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".e3suite-spare")) == []
    assert len(list(tmp_path.iterdir())) == workdirs.MAX_SPARES


def test_past_the_bound_a_directory_with_files_is_left_alone(tmp_path: Path) -> None:
    for i in range(workdirs.MAX_SPARES):
        workdirs.make(tmp_path / f"d{i}")
        assert workdirs.recycle(tmp_path / f"d{i}")
    written = tmp_path / "written"
    workdirs.make(written)
    (written / "out.txt").write_text("x")
    assert not workdirs.recycle(written)
    assert (written / "out.txt").read_text() == "x"


SUITE_FILES = {
    # Each testcase writes in its working directory, or changes its mode,
    # and fails unless it started empty, with the mode of a new directory.
    **{
        f"tests/t{i:02d}/test.yaml": (
            "driver: shell\n"
            "cmd: [sh, -c, 'test -z \"$(ls -A)\" && test \"$(stat -c %a .)\" = \"$(cat $MODE_FILE)\" "
            f"&& {'touch left-behind' if i % 3 == 0 else 'chmod 700 .' if i % 3 == 1 else 'true'}']\n"
        )
        for i in range(24)
    }
}


@pytest.mark.parametrize("jobs", ["-j1", "-j2"])
def test_every_testcase_starts_in_an_empty_new_directory(tmp_path: Path, jobs: str) -> None:
    root = make_suite(tmp_path / "suite", SUITE_FILES)
    mode_file = tmp_path / "mode"
    probe = tmp_path / "probe"
    probe.mkdir()
    mode_file.write_text(f"{probe.stat().st_mode & 0o777:o}\n")
    os.environ["MODE_FILE"] = str(mode_file)
    try:
        temp = tmp_path / "temp"
        temp.mkdir()
        run = run_suite(root, jobs, "--temp-dir", str(temp))
        assert run.code == 0, run.stdout + run.stderr
        assert "24 passed" in run.stdout
        assert list(temp.iterdir()) == []  # cleanup-mode all: nothing left, spares included
        again = run_suite(root, jobs, "--in-process", "--temp-dir", str(temp))
        assert again.code == 0, again.stdout + again.stderr
    finally:
        del os.environ["MODE_FILE"]


def test_cleanup_mode_passed_keeps_a_failing_testcase_directory(tmp_path: Path) -> None:
    root = make_suite(
        tmp_path / "suite",
        {
            "tests/a-fails/test.yaml": "driver: shell\ncmd: [sh, -c, 'exit 1']\n",
            "tests/b-passes/test.yaml": "driver: shell\ncmd: [true]\n",
        },
    )
    temp = tmp_path / "temp"
    temp.mkdir()
    run = run_suite(root, "-j1", "--cleanup-mode", "passed", "--temp-dir", str(temp))
    assert run.code == 1
    (working_root,) = temp.iterdir()
    assert sorted(p.name for p in working_root.iterdir()) == ["a-fails"]


def test_cleanup_mode_passed_with_nothing_failing_keeps_and_tells_nothing(tmp_path: Path) -> None:
    root = make_suite(tmp_path / "suite", {"tests/b-passes/test.yaml": "driver: shell\ncmd: [true]\n"})
    temp = tmp_path / "temp"
    temp.mkdir()
    run = run_suite(root, "-j1", "--cleanup-mode", "passed", "--temp-dir", str(temp))
    assert run.code == 0, run.stdout + run.stderr
    assert list(temp.iterdir()) == []
    assert "kept in" not in run.stderr
