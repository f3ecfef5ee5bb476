"""Two testsuites on one external scheduler: a worker that joins later serves both.

A real ``LocalCluster`` (the external scheduler) and two engines' Dask
executors, of two testsuites whose driver code differs.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from test_dask_executor import HERE

from e3suite.config import ExecutorSpec
from e3suite.executors.dask_executor import DaskExecutor


def test_a_worker_joining_a_shared_scheduler_is_given_work_by_both_testsuites(
    tmp_path: Path, no_survivors: None
) -> None:
    """Each worker kept the facts of the last testsuite set up on it: the other run refused it.

    That run said "Dask worker ... is given no work: its driver code
    differs" of a worker that ran its code exactly, and never used it.
    """
    from distributed import LocalCluster

    (tmp_path / "other_suite.py").write_text("# another testsuite's driver code\n")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster:
        spec = ExecutorSpec("far", "dask-scheduler", {"address": cluster.scheduler_address})
        notices: dict[str, list[str]] = {"first": [], "second": []}
        first = DaskExecutor(spec, None, root_dir=HERE, driver_files=["dask_support.py"],
                             notice=notices["first"].append)
        second = DaskExecutor(spec, None, root_dir=tmp_path, driver_files=["other_suite.py"],
                              notice=notices["second"].append)
        first.start()
        second.start()
        try:
            assert len(first.pool.workers) == 1 and len(second.pool.workers) == 1
            cluster.scale(2)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and (
                len(first.pool.workers) + len(first.pool.refused) < 2
                or len(second.pool.workers) + len(second.pool.refused) < 2
            ):
                for ex in (first, second):
                    ex._refresh_workers()
                time.sleep(0.2)
            usable = (len(first.pool.workers), len(second.pool.workers))
        finally:
            second.shutdown()
            first.shutdown()
    assert notices == {"first": [], "second": []}
    assert usable == (2, 2)
