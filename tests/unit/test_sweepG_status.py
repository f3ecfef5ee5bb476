"""``e3suite status`` on a killed run whose pid now belongs to another process.

A run SIGKILLed leaves status.json saying "running" with its engine's pid.
Read on another machine (a CI artifact), or once the pid was given to a
new process, that pid may well be alive: before, ``e3suite status`` said
"run of pid 1, running for 6:50" with fragments running, and
``--wait done`` blocked for ever.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from drivers_support import REPO

import e3suite.store as store


def killed_run(path: Path, pid: int, host: str, start: float, pid_start: int | None = None) -> Path:
    writer = store.ResultsWriter(path)
    writer.journal.write("run_started", start=start, argv=["t.py"], cwd=str(path), host=host, jobs=1)
    writer.journal.write("test_discovered", test="slow")
    writer.journal.write("fragment_started", fragment="slow:run", time=start + 0.1)
    writer.journal.close()
    status = {
        "format": "e3suite-status", "version": 1, "pid": pid, "pid_start": pid_start, "state": "running",
        "updated": start + 1,
        "run": {"start": start, "argv": ["t.py"], "cwd": str(path), "host": host, "jobs": 1},
        "elapsed": 1.0, "eta": None, "tests": {"total": 1, "done": 0, "by_status": {}},
        "fragments": {"total": 1, "running": 1, "queued": 0, "ended": 0, "waiting": 0, "held": 0},
        "running": [{"test": "slow", "fragment": "slow:run", "slot": 0, "attempt": 1, "pid": pid,
                     "start": start + 0.1, "expected": None}],
        "waiting": [], "retrying": [],
    }
    (path / store.STATUS).write_text(json.dumps(status))
    return path


def status(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "e3suite", "status", *args, str(path)], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_a_live_pid_of_another_host_is_not_the_run_s_engine(tmp_path: Path) -> None:
    # pid 1 lives here, whatever machine the results came from.
    path = killed_run(tmp_path / "new", 1, "ci-runner-42", time.time() - 60)
    shown = status(path)
    assert shown.returncode == 0
    assert shown.stdout.startswith(
        "e3suite: the run did not finish: its engine (pid 1) ran on ci-runner-42, not on this host\n"
    ), shown
    assert status(path, "--wait", "done", "--timeout", "30").returncode == 1


def test_a_pid_given_to_another_process_since_is_not_its_engine(tmp_path: Path) -> None:
    from e3suite.reports.status import own_start, process_start

    # This very process stands for the engine, with the start its status records: alive...
    live = killed_run(tmp_path / "live", os.getpid(), socket.gethostname(), time.time(), own_start())
    assert "running for" in status(live).stdout
    # ... and a process that started at another time is not it: the pid was given again.
    with subprocess.Popen(["sleep", "60"]) as young:
        try:
            assert process_start(young.pid) != own_start()
            reused = killed_run(tmp_path / "reused", young.pid, socket.gethostname(), time.time(), own_start())
            shown = status(reused)
            assert "the run stopped without finishing" in shown.stdout, shown
        finally:
            young.kill()


def test_the_status_file_records_the_engine_s_start(tmp_path: Path) -> None:
    from e3suite.reports.status import own_start, write_starting

    writer = store.ResultsWriter(tmp_path)
    info = {"start": time.time(), "argv": ["t.py"], "cwd": str(tmp_path), "host": socket.gethostname(), "jobs": 1}
    writer.journal.write("run_started", **info)
    write_starting(writer, info)
    writer.journal.close()
    assert json.loads((tmp_path / store.STATUS).read_text())["pid_start"] == own_start() is not None
