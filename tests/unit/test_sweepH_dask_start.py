"""Ctrl-C and SIGTERM while a Dask cluster starts: the run ends at once, as interrupted.

A real scheduler (``LocalCluster`` with no worker) that the testsuite is
pointed at with ``--dask-scheduler``: it waits for a first worker that
does not come.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

import e3suite

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"])
def test_a_signal_while_waiting_for_the_first_worker_ends_the_run(
    tmp_path: Path, no_survivors: None, signum: int, status: int
) -> None:
    """It went unheard until start_timeout (120 s), then the run ended with exit status 2 and an error."""
    from distributed import LocalCluster

    shutil.copy(REPO / "drivers" / "sample_suite.py", tmp_path / "testsuite.py")
    (tmp_path / "tests" / "one").mkdir(parents=True)
    (tmp_path / "tests" / "one" / "test.yaml").write_text("fragments: [{name: run, status: PASS}]\n")
    env = dict(os.environ, PYTHONPATH=str(Path(e3suite.__file__).resolve().parents[1]))
    with LocalCluster(n_workers=0, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
        clients = set(cluster.scheduler.clients)
        engine = subprocess.Popen(
            [sys.executable, "testsuite.py", "--dask-scheduler", cluster.scheduler_address, "--no-color",
             "-o", str(tmp_path / "out")],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while set(cluster.scheduler.clients) <= clients and time.monotonic() < deadline:
                time.sleep(0.05)  # until the engine is connected, waiting for a worker
            assert set(cluster.scheduler.clients) - clients, "the engine never connected"
            engine.send_signal(signum)
            out, _ = engine.communicate(timeout=60)
        finally:
            if engine.poll() is None:
                engine.kill()
                engine.communicate()
    assert engine.returncode == status, out
    assert "SKIP   one: not run: interrupted" in out
    assert "has no worker" not in out


def test_a_cluster_that_fails_to_start_because_of_ctrl_c_is_an_interruption(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C in a terminal reaches a LocalCluster's workers while they import: "Nanny failed to start".

    That was "e3suite: error: cannot start executor 'dask' (dask): RuntimeError:
    Nanny failed to start.", exit status 2, for the user's own Ctrl-C.
    """
    import distributed

    from e3suite.config import ConfigError, ExecutorSpec
    from e3suite.executors.dask_cluster import StartInterrupted, open_cluster

    def failed(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Nanny failed to start.")

    monkeypatch.setattr(distributed, "LocalCluster", failed)
    spec = ExecutorSpec("dask", "dask", {"workers": 1})
    with pytest.raises(StartInterrupted):
        open_cluster(spec, allowed_failures=0, stop=lambda: True)
    with pytest.raises(ConfigError, match="cannot start executor 'dask' \\(dask\\): RuntimeError: Nanny failed"):
        open_cluster(spec, allowed_failures=0, stop=lambda: False)
