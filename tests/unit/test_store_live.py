"""A results directory is "still being written" only while its own engine runs, not any process of its pid."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import e3suite.store as store
from e3suite.process_tree import process_start


def live(tmp_path: Path, **status: object) -> bool:
    (tmp_path / store.STATUS).write_text(json.dumps({"state": "running", **status}))
    return store.run_is_live(tmp_path)


def test_a_killed_runs_pid_that_lives_again_is_not_its_engine(tmp_path: Path) -> None:
    here = {"host": socket.gethostname()}
    me = os.getpid()
    assert live(tmp_path, pid=me, pid_start=process_start(me), run=here)
    assert live(tmp_path, pid=me, run=here)  # a status file of before pid_start: the pid alone
    # Another process has the pid now (pid 1 lives everywhere), or the artefact comes from another machine.
    assert not live(tmp_path, pid=1, pid_start=(process_start(1) or 0) + 1, run=here)
    assert not live(tmp_path, pid=me, pid_start=process_start(me), run={"host": "ci-runner-17"})
    assert not live(tmp_path, pid=2**22 + 3, run=here)
