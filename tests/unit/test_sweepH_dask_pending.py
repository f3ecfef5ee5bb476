"""Fragments that wait for a capable worker, as a user of an external Dask scheduler sees them.

A testsuite runs with ``--dask-scheduler`` on a real ``LocalCluster`` (one
worker, one thread) that never satisfies ``requires: {gpu: 1}``; the
journal it leaves says what ran when.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

import e3suite

REPO = Path(__file__).resolve().parents[2]
PENDING = 6.0  # --max-pending-time


def make_suite(root: Path) -> Path:
    shutil.copy(REPO / "drivers" / "sample_suite.py", root / "testsuite.py")
    # The gpu ones come first in the plan's order: they are handed to the executor first.
    for i in range(1, 4):
        test = root / "tests" / f"a-gpu{i}"
        test.mkdir(parents=True)
        (test / "test.yaml").write_text("requires: {gpu: 1}\nfragments:\n  - name: run\n    status: PASS\n")
    for i in range(1, 4):
        test = root / "tests" / f"cpu{i}"
        test.mkdir(parents=True)
        (test / "test.yaml").write_text("fragments:\n  - name: run\n    sleep: 0.05\n    status: PASS\n")
    return root


def run_suite(root: Path, address: str, *args: str) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    env = dict(os.environ, PYTHONPATH=str(Path(e3suite.__file__).resolve().parents[1]))
    run = subprocess.run(
        [sys.executable, "testsuite.py", "--dask-scheduler", address, "--no-color", "-o", str(root / "out"), *args],
        cwd=root, env=env, capture_output=True, text=True, timeout=180,
    )
    journal = root / "out" / "new" / "journal.jsonl"
    events = [json.loads(line) for line in journal.read_text().splitlines()] if journal.exists() else []
    return run, events


def test_fragments_pending_for_a_capable_worker_do_not_hold_the_slots(tmp_path: Path, no_survivors: None) -> None:
    """-j 1 on a scheduler whose worker has no gpu: the cpu testcases run at once, not after max_pending_time.

    The pending gpu fragments held the engine's -j slots while they
    waited: the testcases that could run waited behind them, 600 s by
    default, and their results came after the gpu ones' ERROR lines.
    """
    from distributed import LocalCluster

    root = make_suite(tmp_path)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster:
        run, events = run_suite(root, cluster.scheduler_address, "-j1", "--max-pending-time", f"{PENDING:g}")
    assert run.returncode == 1, run.stdout + run.stderr
    results = [(e["test"], e["status"]) for e in events if e["event"] == "test_result"]
    assert sorted(results) == [("a-gpu1", "ERROR"), ("a-gpu2", "ERROR"), ("a-gpu3", "ERROR"),
                               ("cpu1", "PASS"), ("cpu2", "PASS"), ("cpu3", "PASS")]
    order = [test for test, _ in results]
    assert order[:3] == ["cpu1", "cpu2", "cpu3"], f"the runnable testcases waited behind the pending ones: {order}"
    why = f"not placed within {PENDING:g} s: needs gpu=1; workers offer gpu=0"
    assert f"ERROR  a-gpu1: a-gpu1:run {why}" in run.stdout

    # Their durations tell the wait they were in the run for (from when
    # they were handed to the executor to the decision), however often the
    # engine took them back and submitted them again meanwhile: they said
    # 0.5 s at most (the time since the last return), or 0 s.
    ended = {e["fragment"]: e for e in events if e["event"] == "fragment_ended"}
    for i in range(1, 4):
        gpu = ended[f"a-gpu{i}:run"]
        assert gpu["end"] - gpu["start"] >= PENDING - 0.05, gpu
        assert all(gpu["start"] <= ended[f"cpu{j}:run"]["start"] for j in range(1, 4))
    record = json.loads(run_report_json(root))
    durations = {t["id"]: t["duration"] for t in record["testcases"]}
    assert all(durations[f"a-gpu{i}"] >= PENDING - 0.05 for i in range(1, 4)), durations


def run_report_json(root: Path) -> str:
    """``e3suite report --json -`` of the run: what CI reads later."""
    env = dict(os.environ, PYTHONPATH=str(Path(e3suite.__file__).resolve().parents[1]))
    out = root / "report.json"
    subprocess.run([sys.executable, "-m", "e3suite", "report", str(root / "out" / "new"), "--json", str(out)],
                   env=env, check=True, capture_output=True, text=True, timeout=60)
    return out.read_text()


def test_pending_fragments_a_joining_worker_can_take_run_when_the_window_is_full(
    tmp_path: Path, no_survivors: None
) -> None:
    """A gpu worker joins while gpu fragments wait: each runs, in turn, however long the window stays full.

    Those the window had no room for when the worker joined stayed pending,
    and failed "not placed within 4 s: no free slot" once their wait (since
    before the worker joined) reached max_pending_time, though a worker
    could run them.
    """
    import dask_support
    from distributed import LocalCluster
    from test_dask_executor import HERE, make_task, run_all

    from e3suite.config import ExecutorSpec
    from e3suite.executors.dask_executor import DaskExecutor

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster:
        spec = ExecutorSpec("far", "dask-scheduler", {"address": cluster.scheduler_address})
        ex = DaskExecutor(spec, 1, root_dir=HERE, driver_files=["dask_support.py"], notice=lambda text: None,
                          max_pending_time=4.0)
        ex.start()
        gpu_worker = None
        try:
            tasks = [make_task(i, dask_support.shell, tmp_path, cmd="sleep 1.5; echo ran") for i in range(3)]
            for task in tasks:
                task.declared_resources = (("gpu", 1),)
                ex.submit(task)
            assert ex.wait(0.2) == []  # no worker has a gpu: they wait
            env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(e3suite.__file__).resolve().parents[1]),
                                                               str(HERE)]))
            gpu_worker = subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address, "--nthreads", "1",
                 "--resources", "gpu=1", "--host", "127.0.0.1", "--no-dashboard", "--no-nanny"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            outcomes = run_all(ex, tasks, timeout=120, submitted=True)
        finally:
            ex.shutdown()
            if gpu_worker is not None:
                gpu_worker.terminate()
                gpu_worker.wait(30)
    assert {i: (o.state.name, o.error) for i, o in outcomes.items()} == {i: ("COMPLETE", None) for i in range(3)}
    assert all("ran" in o.delta.log for o in outcomes.values())
