"""The copy of a test directory into its working directory (ClassicDriver and its stock drivers).

What users rely on: a testcase works on a private copy, never on the source
tree, whatever it does to its files (append, rewrite, chmod, delete); a test
directory with inputs gets them all; one that holds nothing but test.yaml
costs no copy.
"""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from drivers_support import make_suite, run_suite

import e3suite.drivers.classic as classic
from e3suite.drivers import ShellDriver


def driver(test_dir: Path, working_dir: Path) -> ShellDriver:
    return ShellDriver("t", {"cmd": ["true"]}, test_dir, working_dir, argparse.Namespace())


def snapshot(tree: Path) -> dict[str, tuple[int, bytes | str]]:
    """Every entry below ``tree``: its mode and content (a link's target)."""
    entries: dict[str, tuple[int, bytes | str]] = {}
    for path in sorted(tree.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            content: bytes | str = os.readlink(path)
        elif path.is_file():
            content = path.read_bytes()
        else:
            content = b""
        entries[str(path.relative_to(tree))] = (info.st_mode, content)
    return entries


@pytest.fixture(autouse=True)
def forget_devices() -> Any:
    # What a test learns about file systems must not leak into the next.
    classic._NO_REFLINK.clear()
    yield
    classic._NO_REFLINK.clear()


def make_inputs(test_dir: Path) -> None:
    (test_dir / "sub" / "deeper").mkdir(parents=True)
    (test_dir / "test.yaml").write_text("driver: shell\ncmd: [true]\n")
    (test_dir / "input.txt").write_text("input\n")
    (test_dir / "sub" / "deeper" / "data.bin").write_bytes(bytes(range(256)) * 64)
    script = test_dir / "run.sh"
    script.write_text("#!/bin/sh\necho ran\n")
    script.chmod(0o755)
    os.utime(test_dir / "input.txt", (1_000_000_000, 1_000_000_000))
    (test_dir / "link").symlink_to("input.txt")


def test_a_directory_with_only_test_yaml_is_not_copied(tmp_path: Path) -> None:
    test_dir = tmp_path / "src"
    test_dir.mkdir()
    (test_dir / "test.yaml").write_text("cmd: [true]\n")
    working_dir = tmp_path / "work" / "t"
    driver(test_dir, working_dir).copy_test_dir()
    # Nothing made yet: ctx.shell makes the (empty) directory when a command first runs.
    assert not working_dir.exists()
    assert classic.holds_only_test_yaml(test_dir)


def test_every_file_is_copied_with_modes_times_and_links(tmp_path: Path) -> None:
    test_dir = tmp_path / "src"
    test_dir.mkdir()
    make_inputs(test_dir)
    working_dir = tmp_path / "work" / "t"
    driver(test_dir, working_dir).copy_test_dir()
    assert snapshot(working_dir) == snapshot(test_dir)
    assert (working_dir / "link").is_symlink()
    assert os.stat(working_dir / "run.sh").st_mode & stat.S_IXUSR
    assert os.stat(working_dir / "input.txt").st_mtime == 1_000_000_000
    # Copies, not links: no file shares an inode with its source.
    for name in ("input.txt", "run.sh", "sub/deeper/data.bin", "test.yaml"):
        assert os.stat(working_dir / name).st_ino != os.stat(test_dir / name).st_ino
        assert os.stat(test_dir / name).st_nlink == 1


def test_writing_into_the_copy_never_changes_the_source(tmp_path: Path) -> None:
    test_dir = tmp_path / "src"
    test_dir.mkdir()
    make_inputs(test_dir)
    before = snapshot(test_dir)
    working_dir = tmp_path / "work" / "t"
    driver(test_dir, working_dir).copy_test_dir()
    with open(working_dir / "input.txt", "a") as handle:  # appended in place, same inode
        handle.write("appended\n")
    with open(working_dir / "sub" / "deeper" / "data.bin", "r+b") as handle:  # rewritten in place
        handle.write(b"\0" * 100)
    (working_dir / "run.sh").chmod(0o600)
    (working_dir / "test.yaml").unlink()
    (working_dir / "new.txt").write_text("new\n")
    assert snapshot(test_dir) == before


def test_a_failed_clone_falls_back_to_a_copy_and_is_not_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def no_clone(fd: int, request: int, arg: int) -> None:
        calls.append(request)
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(classic.fcntl, "ioctl", no_clone)
    for name in ("a", "b"):
        test_dir = tmp_path / f"src-{name}"
        test_dir.mkdir()
        make_inputs(test_dir)
        working_dir = tmp_path / "work" / name
        driver(test_dir, working_dir).copy_test_dir()
        assert snapshot(working_dir) == snapshot(test_dir)
    assert calls == [classic._FICLONE]  # once for this pair of file systems


def test_a_clone_keeps_modes_and_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Where the file system clones (btrfs, XFS), the clone gets the content;
    # stand in for the kernel here (this machine's ext4 cannot).
    cloned = []

    def clone(fd: int, request: int, arg: int) -> None:
        assert request == classic._FICLONE
        os.lseek(arg, 0, os.SEEK_SET)
        with os.fdopen(os.dup(arg), "rb") as src, os.fdopen(os.dup(fd), "wb") as dst:
            shutil.copyfileobj(src, dst)
        cloned.append(fd)

    monkeypatch.setattr(classic.fcntl, "ioctl", clone)
    test_dir = tmp_path / "src"
    test_dir.mkdir()
    make_inputs(test_dir)
    working_dir = tmp_path / "work" / "t"
    driver(test_dir, working_dir).copy_test_dir()
    assert len(cloned) == 4  # the regular files; the link is copied as a link
    assert snapshot(working_dir) == snapshot(test_dir)
    assert os.stat(working_dir / "input.txt").st_mtime == 1_000_000_000


def test_a_fifo_is_not_opened(tmp_path: Path) -> None:
    test_dir = tmp_path / "src"
    test_dir.mkdir()
    (test_dir / "test.yaml").write_text("cmd: [true]\n")
    os.mkfifo(test_dir / "pipe")
    # copytree reports the special file (and does not block on it); the testcase ERRORs, naming it.
    with pytest.raises(classic.TestAbortWithError, match=r"working directory: pipe: .* is a named pipe"):
        driver(test_dir, tmp_path / "work" / "t").copy_test_dir()


def test_shell_testcases_see_their_inputs_and_leave_the_tree_alone(tmp_path: Path) -> None:
    root = make_suite(
        tmp_path / "suite",
        {
            "tests/alone/test.yaml": """\
                driver: shell
                cmd: [sh, -c, 'test -z "$(ls -A)" && echo made > out.txt']
            """,
            "tests/inputs/test.yaml": """\
                driver: shell
                cmd: [sh, -c, 'cat input.txt && echo more >> input.txt && chmod 000 input.txt && rm test.yaml']
            """,
            "tests/inputs/input.txt": "input\n",
        },
    )
    before = snapshot(root / "tests")
    run = run_suite(root, "-j2")
    assert run.code == 0, run.stdout + run.stderr
    assert {test: r["status"] for test, r in run.results.items()} == {"alone": "PASS", "inputs": "PASS"}
    assert snapshot(root / "tests") == before


def test_an_input_the_copy_refuses_is_an_error_in_one_line(tmp_path: Path) -> None:
    """A named pipe in a test directory: ERROR naming it, not "raised Error: [(...)]" and shutil's traceback."""
    root = make_suite(tmp_path / "suite", {
        "tests/fifo/test.yaml": "driver: shell\ncmd: [true]\n",
        "tests/fifo/sub/input.txt": "x\n",
        "tests/ok/test.yaml": "driver: shell\ncmd: [true]\n",
    })
    os.mkfifo(root / "tests" / "fifo" / "sub" / "pipe")
    run = run_suite(root, "-j1")
    record = run.results["fifo"]
    pipe = root / "tests" / "fifo" / "sub" / "pipe"
    assert (record["status"], record["message"]) == (
        "ERROR", f"cannot copy the test directory into its working directory: sub/pipe: `{pipe}` is a named pipe"
    )
    assert "Traceback" not in run.stdout + record.get("log", "")
    assert run.results["ok"]["status"] == "PASS"


def test_copy_problems_names_the_entries_relative_to_the_test_directory(tmp_path: Path) -> None:
    many = shutil.Error([(str(tmp_path / f"p{i}"), "/w", f"why {i}") for i in range(5)])
    assert classic.copy_problems(many, tmp_path) == "p0: why 0; p1: why 1; p2: why 2; and 2 more"
    denied = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "secret"))
    assert classic.copy_problems(denied, tmp_path) == "secret: Permission denied"
