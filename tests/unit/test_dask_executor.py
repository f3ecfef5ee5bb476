"""The Dask executor on a real distributed.LocalCluster (several worker processes).

Each test starts its own cluster (about a second) so that a worker killed
or a run interrupted cannot leak into the next test; the fixture checks
with psutil that nothing the test started survives it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

pytest.importorskip("distributed")

import dask_support  # after the skip: workers import it too

from e3suite.config import ExecutorSpec
from e3suite.executors.base import FragmentOutcome, FragmentTask
from e3suite.executors.dask_executor import DaskExecutor
from e3suite.model import FragmentState, TestResult

HERE = Path(__file__).resolve().parent


def make_task(index: int, callback: Any, tmp_path: Path, **env: Any) -> FragmentTask:
    test_id = f"t{index}"
    return FragmentTask(
        index=index, fragment_id=f"{test_id}:run", test_id=test_id, name="run", callback=callback,
        test_env=dict(env), test_dir=tmp_path, working_dir=tmp_path / test_id,
        options=argparse.Namespace(kill_grace=0.5), previous=env.pop("previous", {}) if "previous" in env else {},
        result=TestResult(test_id), timeout=env.get("timeout"),
    )


@pytest.fixture
def no_survivors() -> Iterator[None]:
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    yield
    deadline = time.monotonic() + 10
    while True:
        # multiprocessing's resource tracker lives as long as this process, by design.
        left = [
            p for p in me.children(recursive=True)
            if p.pid not in before
            and p.status() != psutil.STATUS_ZOMBIE
            and "resource_tracker" not in " ".join(p.cmdline())
        ]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not left, [p.cmdline() for p in left]


def executor(workers: int = 2, jobs: int | None = None, **kwargs: Any) -> DaskExecutor:
    spec = ExecutorSpec("test", "dask", {"workers": workers, "threads_per_worker": 1})
    notices: list[str] = []
    ex = DaskExecutor(spec, jobs, root_dir=HERE, driver_files=["dask_support.py"], notice=notices.append, **kwargs)
    ex.notices = notices  # type: ignore[attr-defined]
    return ex


def run_all(ex: DaskExecutor, tasks: list[FragmentTask], timeout: float = 60) -> dict[int, FragmentOutcome]:
    outcomes: dict[int, FragmentOutcome] = {}
    queue = list(tasks)
    deadline = time.monotonic() + timeout
    while len(outcomes) < len(tasks) and time.monotonic() < deadline:
        while queue and ex.free_slots() > 0:
            ex.submit(queue.pop(0))
        for outcome in ex.wait(0.5):
            if outcome.state is FragmentState.READY:  # given back unstarted: the engine submits it again
                queue.append(next(t for t in tasks if t.index == outcome.index))
            else:
                outcomes[outcome.index] = outcome
    return outcomes


def test_fragments_run_on_several_workers_with_unique_slots(tmp_path: Path, no_survivors: None) -> None:
    ex = executor(workers=2)
    ex.start()
    try:
        assert ex.jobs == 4  # twice the workers' threads
        facts = list(ex._workers.values())
        assert len(facts) == 2 and all(f["os"] and f["e3suite"] for f in facts)
        tasks = [make_task(i, dask_support.give, tmp_path, value=i) for i in range(12)]
        outcomes = run_all(ex, tasks)
    finally:
        ex.shutdown()
    assert sorted(outcomes) == list(range(12))
    assert all(o.state is FragmentState.COMPLETE for o in outcomes.values())
    assert [outcomes[i].return_value["value"] for i in range(12)] == list(range(12))
    assert all(0 <= o.slot < 4 and o.slot == o.return_value["slot"] for o in outcomes.values())
    assert len({o.return_value["pid"] for o in outcomes.values()}) == 2  # both workers took some


def test_commands_run_with_the_workers_hygiene(tmp_path: Path, no_survivors: None) -> None:
    ex = executor(workers=1, jobs=2)
    ex.start()
    try:
        tasks = [
            make_task(0, dask_support.shell, tmp_path, cmd="echo hello; exit 3"),
            make_task(1, dask_support.shell, tmp_path, cmd="sleep 30", timeout=0.5),
        ]
        outcomes = run_all(ex, tasks)
    finally:
        ex.shutdown()
    assert outcomes[0].state is FragmentState.COMPLETE and outcomes[0].return_value == 3
    assert "hello" in outcomes[0].delta.log
    assert outcomes[1].state is FragmentState.TIMEDOUT
    assert "timed out after 0.5 s" in str(outcomes[1].error)


def test_requirements_are_matched_to_worker_facts(tmp_path: Path, no_survivors: None) -> None:
    ex = executor(workers=2, suite_class=dask_support.FactsSuite)
    ex.start()
    try:
        assert all(f["gnat"] == "14.1" for f in ex._workers.values())
        tasks = [
            make_task(0, dask_support.give, tmp_path, requires={"os": "linux", "gnat": ">=14"}),
            make_task(1, dask_support.give, tmp_path, requires={"gpu": 1}),
            make_task(2, dask_support.PickyDriver().run, tmp_path),
        ]
        outcomes = run_all(ex, tasks)
    finally:
        ex.shutdown()
    assert outcomes[0].state is FragmentState.COMPLETE
    # A fixed-size cluster whose workers all joined: decided at once.
    assert outcomes[1].state is FragmentState.FAILED
    assert outcomes[1].error == "t1:run not placed on any worker of this cluster: needs gpu=1; workers offer gpu=0"
    assert outcomes[2].state is FragmentState.FAILED
    assert "not placed" in str(outcomes[2].error) and "wants a host named nowhere" in str(outcomes[2].error)


def test_workers_with_other_driver_code_get_no_work(tmp_path: Path, no_survivors: None) -> None:
    ex = executor(workers=2)
    ex.driver_hash = "not-the-workers"
    ex.start()
    try:
        outcomes = run_all(ex, [make_task(0, dask_support.give, tmp_path)])
    finally:
        ex.shutdown()
    assert len(ex.notices) == 1 and "is given no work: its driver code differs" in ex.notices[0]  # type: ignore[attr-defined]
    assert outcomes[0].state is FragmentState.FAILED and "not placed" in str(outcomes[0].error)


def test_a_lost_worker_is_retried_then_an_error(tmp_path: Path, no_survivors: None) -> None:
    ex = executor(workers=2, max_worker_failures=2)
    ex.start()
    try:
        outcomes = run_all(ex, [make_task(0, dask_support.die, tmp_path), make_task(1, dask_support.give, tmp_path)])
    finally:
        ex.shutdown()
    assert outcomes[1].state is FragmentState.COMPLETE
    assert outcomes[0].state is FragmentState.FAILED
    assert outcomes[0].error == "worker lost while running t0:run (tried 2 times)"


def test_interrupt_kills_commands_on_every_worker(tmp_path: Path, no_survivors: None) -> None:
    ex = executor(workers=2, jobs=4)
    ex.start()
    try:
        tasks = [make_task(i, dask_support.shell, tmp_path, cmd="sleep 60") for i in range(4)]
        for task in tasks:
            ex.submit(task)
        deadline = time.monotonic() + 30
        sleeping: list[psutil.Process] = []
        while len(sleeping) < 2 and time.monotonic() < deadline:
            sleeping = [p for p in psutil.Process().children(recursive=True) if p.name() == "sleep"]
            time.sleep(0.05)
        assert len(sleeping) == 2
        outcomes = {o.index: o for o in ex.interrupt()}
    finally:
        ex.shutdown()
    states = sorted(o.state.name for o in outcomes.values())
    assert states == ["ABORTED", "ABORTED", "READY", "READY"]
    assert all(o.error == "interrupted" for o in outcomes.values())
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in sleeping)
