"""At the end of a run on a LocalCluster, no guardian of its workers outlives the engine.

A real ``LocalCluster`` of two worker processes: one is lost mid-run, its
nanny starts another, which the engine has not seen yet (its facts take a
while) when the run ends.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

pytest.importorskip("distributed")

import dask_support  # after the skip: workers import it too
from test_dask_executor import executor, make_task, run_all

from e3suite.model import FragmentState


def guardians() -> dict[int, int]:
    """Live guardians on this machine: pid -> the pid of the worker it guards."""
    found = {}
    for proc in psutil.process_iter(["cmdline", "status"]):
        words = proc.info["cmdline"] or []
        if words[1:3] == ["-m", "e3suite.guardian"] and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found[proc.pid] = int(words[3])
    return found


def test_the_guardian_of_a_worker_the_engine_never_saw_ends_with_the_run(
    tmp_path: Path, no_survivors: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine waited only for the guardians of the workers whose facts it had read.

    A worker that joined late (a nanny's restart after a loss) and whose
    facts were not in when the run ended had a guardian nobody waited for:
    it was still sweeping after the engine exited (e3suite's own
    tests/distributed/worker-lost showed it as a [LEAK] of the run). Like
    the others, it is waited for, at most 10 s, then killed.
    """
    marker = tmp_path / "slow-facts"
    monkeypatch.setenv("E3SUITE_TEST_SLOW_FACTS", str(marker))
    ex = executor(workers=2, max_worker_failures=1, suite_class=dask_support.SlowFactsSuite)
    ex.start()
    try:
        seen = {pid for _, pid in ex.pool.seen.values()}
        marker.touch()  # the worker started after the loss takes 15 s to give its facts
        outcomes = run_all(ex, [make_task(0, dask_support.die, tmp_path)])
        assert outcomes[0].state is FragmentState.FAILED and "worker lost" in str(outcomes[0].error)
        deadline = time.monotonic() + 60
        unseen: list[int] = []
        while not unseen and time.monotonic() < deadline:
            time.sleep(0.05)
            unseen = [g for g, worker in guardians().items() if worker not in seen and worker != os.getpid()]
        assert unseen, "no worker was started after the loss"
        # A loaded machine: its last sweep, once its worker is gone, takes a while.
        os.kill(unseen[0], signal.SIGSTOP)
    finally:
        ex.shutdown()
    left = [g for g in unseen if g in guardians()]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "a worker's guardian outlived the run"
