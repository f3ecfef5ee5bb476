"""A run put in the background (Ctrl-Z, then ``bg``) in an interactive shell ends, and says so.

Before, with its stdin a terminal (where the ``t`` key prints the status),
such a run finished its testcases, printed their lines, then stopped at its
very end, "Stopped (tty output)" in ``jobs``, its summary never printed: it
put the terminal's mode back from the background, and the kernel stops a
process that does that (SIGTTOU) until it is brought back with ``fg``.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import shutil
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from drivers_support import REPO, make_suite


class Terminal:
    """An interactive bash on a pseudo-terminal, with job control."""

    def __init__(self, cwd: Path) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # pragma: no cover - the child
            os.chdir(cwd)
            env = {**os.environ, "PS1": "$ ", "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
            os.execvpe("bash", ["bash", "--norc", "--noprofile", "-i"], env)
        self.text = ""

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def wait_for(self, wanted: str, after: int = 0, timeout: float = 60) -> int:
        """Read until ``wanted`` appears past offset ``after``; its end offset."""
        deadline = time.monotonic() + timeout
        while (found := self.text.find(wanted, after)) < 0:
            left = deadline - time.monotonic()
            assert left > 0, f"not seen {wanted!r} in {self.text[after:]!r}"
            readable, _, _ = select.select([self.fd], [], [], min(left, 0.2))
            if readable:
                with contextlib.suppress(OSError):
                    self.text += os.read(self.fd, 4096).decode(errors="replace").replace("\r", "")
        return found + len(wanted)

    def close(self) -> None:
        for proc in [psutil.Process(self.pid), *psutil.Process(self.pid).children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        os.waitpid(self.pid, 0)
        os.close(self.fd)


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash for job control")
def test_a_run_sent_to_the_background_prints_its_summary_and_exits(tmp_path: Path) -> None:
    mark = f"sweepG-{uuid.uuid4().hex}"
    make_suite(tmp_path, {
        # Runs until the test says so: Ctrl-Z comes while it runs, whatever the machine's load.
        "tests/wait/test.yaml": f"driver: shell\ncmd: 'while [ ! -e {tmp_path}/go ]; "
                                f"do sleep 0.05; done; : {mark}'\n",
    })
    terminal = Terminal(tmp_path)
    try:
        terminal.wait_for("$ ")
        terminal.type(f"{sys.executable} testsuite.py --no-color --progress none -j1; echo run-exit=$?\n")
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("out/new/status.json")) or not any(
            mark in " ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])
        ):
            assert time.monotonic() < deadline, terminal.text
            time.sleep(0.05)
        terminal.type("\x1a")  # Ctrl-Z
        seen = terminal.wait_for("Stopped")
        seen = terminal.wait_for("$ ", seen)
        terminal.type("bg\n")
        seen = terminal.wait_for("&", seen)
        (tmp_path / "go").touch()
        seen = terminal.wait_for("PASS   wait", seen)
        terminal.wait_for("e3suite: 1 passed, 0 failed, 0 skipped\n", seen)
        terminal.type("jobs -l; echo jobs-listed\n")
        listed = terminal.wait_for("jobs-listed\n", seen)
        assert "Stopped (tty output)" not in terminal.text[seen:listed]
    finally:
        (tmp_path / "go").touch()
        terminal.close()
    deadline = time.monotonic() + 10
    while left := [p for p in psutil.process_iter(["cmdline"]) if mark in " ".join(p.info["cmdline"] or [])]:
        assert time.monotonic() < deadline, left
        time.sleep(0.05)


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash for job control")
def test_the_t_key_works_again_after_ctrl_z_and_fg(tmp_path: Path) -> None:
    """Before, once stopped and brought back, the terminal stayed in the shell's line mode: 't' waited for Enter."""
    mark = f"sweepG-{uuid.uuid4().hex}"
    make_suite(tmp_path, {
        "tests/wait/test.yaml": f"driver: shell\ncmd: 'while [ ! -e {tmp_path}/go ]; do sleep 0.05; done; : {mark}'\n",
    })
    terminal = Terminal(tmp_path)
    try:
        terminal.wait_for("$ ")
        terminal.type(f"{sys.executable} testsuite.py --no-color --progress none -j1\n")
        deadline = time.monotonic() + 60
        while not any(mark in " ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])):
            assert time.monotonic() < deadline, terminal.text
            time.sleep(0.05)
        terminal.type("\x1a")  # Ctrl-Z
        seen = terminal.wait_for("Stopped")
        seen = terminal.wait_for("$ ", seen)
        terminal.type("fg\n")
        seen = terminal.wait_for("testsuite.py", seen)
        # The reader puts cbreak back within its 0.2 s turn: press t until the status shows.
        deadline = time.monotonic() + 60
        while "slot 0  wait:run" not in terminal.text[seen:]:
            assert time.monotonic() < deadline, terminal.text[seen:]
            terminal.type("t")
            with contextlib.suppress(AssertionError):
                terminal.wait_for("slot 0  wait:run", seen, timeout=1)
        (tmp_path / "go").touch()
        terminal.wait_for("e3suite: 1 passed, 0 failed, 0 skipped\n", seen)
    finally:
        (tmp_path / "go").touch()
        terminal.close()
    deadline = time.monotonic() + 10
    while left := [p for p in psutil.process_iter(["cmdline"]) if mark in " ".join(p.info["cmdline"] or [])]:
        assert time.monotonic() < deadline, left
        time.sleep(0.05)
