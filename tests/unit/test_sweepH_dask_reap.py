"""What a Dask worker reaps when its fragments end: only the orphans it adopted, on a shared worker.

A real ``LocalCluster`` of one worker process with two threads: a task of
another kind (another user's, on a shared scheduler) runs a command of its
own beside e3suite's fragments, in the same process.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import psutil
import pytest

pytest.importorskip("distributed")

import dask_support  # after the skip: workers import it too
from test_dask_executor import HERE, make_task, run_all

from e3suite.config import ExecutorSpec
from e3suite.executors.dask_executor import DaskExecutor
from e3suite.model import FragmentState


def another_users_command(ready: str, go: str) -> int | None:
    """A task that is no e3suite fragment: its command, in a session of its own, ends 3; it waits for it late."""
    proc = subprocess.Popen(["sh", "-c", "exit 3"], start_new_session=True)
    deadline = time.monotonic() + 60
    while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.01)
    Path(ready).write_text(str(proc.pid))
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return proc.wait(timeout=10)


def test_a_fragment_ending_on_a_shared_worker_does_not_reap_another_tasks_command(
    tmp_path: Path, no_survivors: None
) -> None:
    """The worker reaped every ended child in another session than its own when its fragments ended.

    That took the exit status of another task's ``Popen(start_new_session=True)``
    from its owner: Python then reads 0, so a command of another user that
    failed (3) passed. Only the orphans the worker adopted as subreaper are
    its to reap; one such orphan that ends on its own is still reaped.
    """
    from distributed import Client, LocalCluster

    ready, go = tmp_path / "ready", tmp_path / "go"
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
        spec = ExecutorSpec("far", "dask-scheduler", {"address": cluster.scheduler_address})
        ex = DaskExecutor(spec, 1, root_dir=HERE, driver_files=["dask_support.py"], notice=lambda text: None)
        ex.start()
        try:
            theirs = client.submit(another_users_command, str(ready), str(go), pure=False)
            deadline = time.monotonic() + 60
            while not ready.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert ready.exists(), theirs
            # A fragment whose command leaves an orphan that ends on its own.
            task = make_task(0, dask_support.shell, tmp_path, cmd="setsid sleep 0.01 >/dev/null 2>&1 & echo done")
            outcomes = run_all(ex, [task])
            worker_pid = next(iter(client.run(lambda: __import__("os").getpid()).values()))
            zombies = [p.pid for p in psutil.Process(worker_pid).children() if p.status() == psutil.STATUS_ZOMBIE]
            go.write_text("")
            status = theirs.result(timeout=60)
        finally:
            ex.shutdown()
    assert outcomes[0].state is FragmentState.COMPLETE and outcomes[0].return_value == 0
    assert status == 3, "the worker reaped another task's command: its owner read exit status 0"
    assert zombies == [int(ready.read_text())], "only the other task's own child may stay a zombie (its owner waits)"
