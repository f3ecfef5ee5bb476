"""The Dask executor on a real distributed.LocalCluster (several worker processes).

Each test starts its own cluster (about a second) so that a worker killed
or a run interrupted cannot leak into the next test; the fixture checks
with psutil that nothing the test started survives it.
"""

from __future__ import annotations

import argparse
import itertools
import time
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


def executor(workers: int = 2, jobs: int | None = None, **kwargs: Any) -> DaskExecutor:
    spec = ExecutorSpec("test", "dask", {"workers": workers, "threads_per_worker": 1})
    notices: list[str] = []
    ex = DaskExecutor(spec, jobs, root_dir=HERE, driver_files=["dask_support.py"], notice=notices.append, **kwargs)
    ex.notices = notices  # type: ignore[attr-defined]
    return ex


def run_all(
    ex: DaskExecutor, tasks: list[FragmentTask], timeout: float = 60, submitted: bool = False
) -> dict[int, FragmentOutcome]:
    """What the engine does: submit while there is room, submit again what comes back unstarted."""
    outcomes: dict[int, FragmentOutcome] = {}
    queue = [] if submitted else list(tasks)
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


def wait_for_sleepers(ex: DaskExecutor, count: int, timeout: float = 30) -> list[psutil.Process]:
    """Let the executor send what it was given (it does when the engine waits) until ``count`` sleeps run."""
    deadline = time.monotonic() + timeout
    sleeping: list[psutil.Process] = []
    while len(sleeping) < count and time.monotonic() < deadline:
        assert not ex.wait(0.05)
        sleeping = [p for p in psutil.Process().children(recursive=True) if p.name() == "sleep"]
    return sleeping


def test_fragments_run_on_several_workers_with_unique_slots(tmp_path: Path, no_survivors: None) -> None:
    ex = executor(workers=2)
    ex.start()
    try:
        assert ex.slots == 4  # twice the workers' threads (batches in Dask at once)
        facts = list(ex.pool.workers.values())
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
        assert all(f["gnat"] == "14.1" for f in ex.pool.workers.values())
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
    ex.pool.driver_hash = "not-the-workers"
    ex.start()
    try:
        outcomes = run_all(ex, [make_task(0, dask_support.give, tmp_path)])
    finally:
        ex.shutdown()
    assert len(ex.notices) == 1 and "is given no work: its driver code differs" in ex.notices[0]  # type: ignore[attr-defined]
    assert outcomes[0].state is FragmentState.FAILED and "not placed" in str(outcomes[0].error)
    # The notice went to stderr only: the verdict, which the reports show later, says why too.
    assert "no usable worker; 2 workers given no work: its driver code differs (hash " in str(outcomes[0].error)


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


def test_a_retry_of_a_testcase_is_given_its_own_worker_failures(tmp_path: Path, no_survivors: None) -> None:
    """retries: 1 and --max-worker-failures 2: attempt 2 ended at its first death, 'tried 3 times'."""
    import dataclasses

    ex = executor(workers=2, max_worker_failures=2)
    ex.start()
    try:
        first = make_task(0, dask_support.die, tmp_path)
        outcomes = [run_all(ex, [first])[0], run_all(ex, [dataclasses.replace(first, attempt=2)])[0]]
    finally:
        ex.shutdown()
    assert [o.error for o in outcomes] == ["worker lost while running t0:run (tried 2 times)"] * 2


def test_fragments_queued_behind_one_that_kills_its_worker_are_not_blamed(
    tmp_path: Path, no_survivors: None
) -> None:
    """Two batches on one 1-thread worker: the first one's fragment kills the worker at once.

    The second batch was only queued there. The start of the one that
    killed its worker used to go on the worker's batched stream and die
    with it: the engine could not tell which one ran, gave both back, and
    then counted worker failures against the queued, innocent fragment
    too ("worker lost while running t1:run"), while the culprit took
    twice as many worker deaths as --max-worker-failures.
    """
    ex = executor(workers=1, jobs=2, max_worker_failures=1)  # 2 batch slots, both on the one worker
    ex.start()
    try:
        tasks = [make_task(0, dask_support.die, tmp_path)] + [
            make_task(i, dask_support.give, tmp_path, value=i) for i in range(1, 4)
        ]
        outcomes = run_all(ex, tasks)
    finally:
        ex.shutdown()
    assert outcomes[0].state is FragmentState.FAILED
    assert outcomes[0].error == "worker lost while running t0:run (tried 1 time)"
    assert [outcomes[i].state for i in range(1, 4)] == [FragmentState.COMPLETE] * 3
    assert not ex._given_back.get(0)  # its start came: counted at its first loss, never given back


def test_interrupt_kills_commands_on_every_worker(tmp_path: Path, no_survivors: None) -> None:
    ex = executor(workers=2, jobs=4)
    ex.start()
    try:
        tasks = [make_task(i, dask_support.shell, tmp_path, cmd="sleep 60") for i in range(4)]
        for task in tasks:
            ex.submit(task)
        sleeping = wait_for_sleepers(ex, 2)
        assert len(sleeping) == 2
        outcomes = {o.index: o for o in ex.interrupt()}
    finally:
        ex.shutdown()
    states = sorted(o.state.name for o in outcomes.values())
    assert states == ["ABORTED", "ABORTED", "READY", "READY"]
    assert all(o.error == "interrupted" for o in outcomes.values())
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in sleeping)


def test_ready_fragments_go_in_batches_with_the_same_outcomes(tmp_path: Path, no_survivors: None) -> None:
    ex = executor(workers=2)
    ex.start()
    try:
        tasks = [make_task(i, dask_support.give, tmp_path, value=i) for i in range(40)]
        for task in tasks:
            ex.submit(task)  # the engine submits while free_slots() > 0: batches form when it waits
        outcomes: dict[int, FragmentOutcome] = {}
        started = []
        deadline = time.monotonic() + 60
        while len(outcomes) < 40 and time.monotonic() < deadline:
            outcomes.update({o.index: o for o in ex.wait(0.5)})
            started += ex.take_started()
        started += ex.take_started()
    finally:
        ex.shutdown()
    assert ex._seq == 4  # 40 fragments over 4 batch slots: 4 Dask tasks of 10
    assert sorted(outcomes) == list(range(40))
    assert all(o.state is FragmentState.COMPLETE for o in outcomes.values())
    assert [outcomes[i].return_value["value"] for i in range(40)] == list(range(40))
    assert all(0 <= o.slot < 4 and o.slot == o.return_value["slot"] for o in outcomes.values())
    # Each fragment told its own start, on its batch's slot, before its own end.
    assert sorted(s.index for s in started) == list(range(40))
    by_index = {s.index: s for s in started}
    assert all(by_index[i].slot == outcomes[i].slot and by_index[i].time <= outcomes[i].end for i in range(40))
    # A batch runs one fragment at a time: its fragments' runs do not overlap.
    for slot in range(4):
        runs = sorted((o.start, o.end) for o in outcomes.values() if o.slot == slot)
        assert len(runs) == 10
        assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(runs))


def test_few_ready_fragments_are_not_held_in_one_batch(tmp_path: Path, no_survivors: None) -> None:
    ex = executor(workers=2)
    ex.start()
    try:
        outcomes = run_all(ex, [make_task(i, dask_support.give, tmp_path) for i in range(3)])
    finally:
        ex.shutdown()
    assert ex._seq == 3  # fewer fragments than batch slots: one each, no thread starves
    assert len({o.return_value["pid"] for o in outcomes.values()}) == 2


def test_a_worker_killed_mid_batch_counts_one_failure(tmp_path: Path, no_survivors: None) -> None:
    ex = executor(workers=2, jobs=2)  # 2 batch slots: 8 fragments in 2 batches of 4, one per worker
    ex.start()
    try:
        tasks = [make_task(i, dask_support.shell, tmp_path, cmd="sleep 0.5; echo done") for i in range(8)]
        for task in tasks:
            ex.submit(task)
        sleeping = wait_for_sleepers(ex, 1)
        assert sleeping
        victim = sleeping[0].parent().parent()  # sleep <- /bin/sh -c <- the Dask worker process
        victim.kill()
        outcomes = run_all(ex, tasks, submitted=True)
    finally:
        ex.shutdown()
    assert sorted(outcomes) == list(range(8))
    assert all(o.state is FragmentState.COMPLETE and "done" in o.delta.log for o in outcomes.values())
    # The fragment that was running counts one worker failure; those of its
    # batch that had not started went again uncounted.
    assert sum(ex._lost.values()) == 1


def test_interrupt_with_a_batch_in_flight(tmp_path: Path, no_survivors: None) -> None:
    ex = executor(workers=1, jobs=1)  # one batch slot: the 5 fragments go in one batch
    ex.start()
    try:
        for i in range(5):
            ex.submit(make_task(i, dask_support.shell, tmp_path, cmd="sleep 60"))
        sleeping = wait_for_sleepers(ex, 1)
        assert len(sleeping) == 1
        outcomes = {o.index: o for o in ex.interrupt()}
    finally:
        ex.shutdown()
    assert ex._seq == 1
    assert [outcomes[i].state.name for i in range(5)] == ["ABORTED"] + ["READY"] * 4
    assert all(o.error == "interrupted" for o in outcomes.values())
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in sleeping)


def test_queued_fragments_of_a_batch_are_taken_back_before_they_start(tmp_path: Path, no_survivors: None) -> None:
    ex = executor(workers=1, jobs=1)
    ex.start()
    try:
        tasks = [make_task(i, dask_support.shell, tmp_path, cmd="sleep 1") for i in range(6)]
        for task in tasks:
            ex.submit(task)
        assert wait_for_sleepers(ex, 1)
        taken = ex.take_back_queued()  # what the engine does once a failure limit is reached
        outcomes: dict[int, FragmentOutcome] = {}
        deadline = time.monotonic() + 30
        while not outcomes and time.monotonic() < deadline:
            outcomes.update({o.index: o for o in ex.wait(0.5)})
        assert not ex.wait(1.0)  # nothing else of the batch runs
    finally:
        ex.shutdown()
    assert sorted(o.index for o in taken) == [1, 2, 3, 4, 5]
    assert all(o.state is FragmentState.READY for o in taken)
    assert list(outcomes) == [0] and outcomes[0].state is FragmentState.COMPLETE


def test_interrupting_a_run_kills_only_its_own_commands_on_a_shared_worker(no_survivors: None) -> None:
    """Two runs on one external scheduler: SIGTERM to one engine killed the other run's commands too.

    The threads of one worker process run fragments of both runs; the
    control function the interrupted engine runs there must kill its own.
    """
    import threading

    from e3suite import process
    from e3suite.executors import dask_worker

    results: dict[str, process.CommandResult] = {}

    def fragment(run_id: str) -> None:
        with process.tag_scope(f"{run_id}:"):
            results[run_id] = process.run(["sleep", "30"], env={"E3SUITE_ATTEMPT": "1"}, timeout=60, kill_grace=0.1)

    threads = [threading.Thread(target=fragment, args=(run_id,)) for run_id in ("run-a", "run-b")]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len([p for p in psutil.Process().children() if p.name() == "sleep"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    dask_worker.kill_commands("run-a", grace=0.1, settle=0.5)
    threads[0].join(30)
    try:
        assert "run-a" in results and not results["run-a"].ok
        assert "run-b" not in results, "the other run's command was killed"
    finally:
        process.kill_tagged(f"{psutil.Process().pid}:run-b:")
        threads[1].join(30)


def test_a_command_that_escapes_with_setsid_is_a_leak_killed_at_once(tmp_path: Path, no_survivors: None) -> None:
    # Dask workers are child subreapers, as local workers are: the sleep
    # that left its session outlives its shell, becomes the worker's child,
    # and the command's leak check finds it, reports it and kills it (it
    # survived the run on an external scheduler, unreported).
    mark = f"{300 + time.monotonic_ns() % 1000}.5"
    ex = executor(workers=1, jobs=1)
    ex.start()
    try:
        task = make_task(0, dask_support.shell, tmp_path, cmd=f"setsid sleep {mark} >/dev/null 2>&1 & echo left")
        # One that ends on its own, after its shell: no leak, and reaped by the worker (no zombie stays).
        brief = make_task(1, dask_support.shell, tmp_path, cmd="setsid sleep 0.01 >/dev/null 2>&1 & echo brief")
        outcomes = run_all(ex, [task, brief])
        escaped = [p for p in psutil.process_iter(["cmdline"]) if mark in (p.info["cmdline"] or [])]
        zombies = [p for p in psutil.Process().children(recursive=True) if p.status() == psutil.STATUS_ZOMBIE]
    finally:
        ex.shutdown()
    assert outcomes[0].state is FragmentState.COMPLETE and outcomes[0].return_value == 0
    assert "left 1 process running (killed)" in outcomes[0].delta.log
    assert f"(sleep {mark})" in outcomes[0].delta.log
    assert not [p for p in escaped if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert outcomes[1].state is FragmentState.COMPLETE and "left" not in outcomes[1].delta.log
    assert not zombies


def test_a_requirement_not_placed_in_time_fails_its_later_fragments_at_once(
    tmp_path: Path, no_survivors: None
) -> None:
    """An external scheduler whose workers never satisfy ``requires:``: one wait, not one per window's worth.

    The engine holds at most ``jobs`` fragments in the executor, pending
    ones included: each window of fragments waited ``max_pending_time``
    again, so 9 of them on a window of 2 took 5 times 600 s, and the
    testcases that could run waited behind them.
    """
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster:
        spec = ExecutorSpec("far", "dask-scheduler", {"address": cluster.scheduler_address})
        ex = DaskExecutor(spec, None, root_dir=HERE, driver_files=["dask_support.py"], notice=lambda text: None,
                          max_pending_time=1.0)
        ex.start()
        try:
            assert ex.window == 2  # one fragment per task on an external scheduler, 2 x 1 thread
            tasks = [make_task(i, dask_support.give, tmp_path, requires={"gpu": 1}) for i in range(9)]
            outcomes: dict[int, FragmentOutcome] = {}
            held: set[int] = set()
            queue = list(tasks)
            deadline = time.monotonic() + 60
            while (queue or held) and time.monotonic() < deadline:
                later = bool(outcomes)  # submitted once the first ones were not placed in time
                while queue and len(held) < ex.window:  # a window's worth at a time
                    task = queue.pop(0)
                    held.add(task.index)
                    ex.submit(task)
                    if later:
                        decided = ex.wait(0)
                        assert [o.index for o in decided] == [task.index], "it waited max_pending_time again"
                        outcomes[task.index] = decided[0]
                        held.discard(task.index)
                for outcome in ex.wait(0.2):
                    if outcome.state is not FragmentState.READY:
                        outcomes[outcome.index] = outcome
                    else:
                        queue.insert(0, next(t for t in tasks if t.index == outcome.index))
                    held.discard(outcome.index)
        finally:
            ex.shutdown()
    assert sorted(outcomes) == list(range(9))
    why = "not placed within 1 s: needs gpu=1; workers offer gpu=0"
    assert all(o.state is FragmentState.FAILED and o.error == f"t{i}:run {why}" for i, o in outcomes.items())


def test_two_testsuites_with_a_drivers_package_of_the_same_name_share_a_scheduler(
    tmp_path: Path, no_survivors: None
) -> None:
    """One run after the other on the same workers: the second suite's driver module is its own.

    The workers kept the first suite's ``e3drivers.steps`` in sys.modules:
    the second suite's fragments, pickled by reference, ran the first
    suite's code, with its verdicts, and said nothing.
    """
    import importlib
    import sys

    from distributed import LocalCluster

    def load(suite: str) -> Any:
        root = tmp_path / suite
        (root / "e3drivers").mkdir(parents=True)
        (root / "e3drivers" / "__init__.py").write_text("")
        (root / "e3drivers" / "steps.py").write_text(f"def which(ctx):\n    return {suite!r}\n")
        for name in [n for n in sys.modules if n.partition(".")[0] == "e3drivers"]:
            del sys.modules[name]
        sys.path.insert(0, str(root))
        try:
            return importlib.import_module("e3drivers.steps").which
        finally:
            sys.path.remove(str(root))

    answers = {}
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster:
        spec = ExecutorSpec("far", "dask-scheduler", {"address": cluster.scheduler_address})
        for suite in ("one", "two"):
            callback = load(suite)
            ex = DaskExecutor(spec, None, root_dir=tmp_path / suite, driver_files=["e3drivers/steps.py"],
                              notice=lambda text: None)
            ex.start()
            try:
                outcomes = run_all(ex, [make_task(0, callback, tmp_path)])
            finally:
                ex.shutdown()
            answers[suite] = outcomes[0].return_value
    for name in [n for n in sys.modules if n.partition(".")[0] == "e3drivers"]:
        del sys.modules[name]
    assert answers == {"one": "one", "two": "two"}


def test_an_interruption_ends_though_a_worker_does_not_answer(tmp_path: Path, no_survivors: None) -> None:
    """A worker SIGSTOPped (a frozen node) while it runs a fragment: Ctrl-C hung the engine until it was resumed.

    The control function that kills the run's commands waited for every
    worker's answer, for ever; a second Ctrl-C did not help.
    """
    import threading

    ex = executor(workers=2, jobs=2)
    ex.start()
    frozen: psutil.Process | None = None
    try:
        for i in range(2):
            ex.submit(make_task(i, dask_support.shell, tmp_path, cmd="sleep 60"))
        sleepers = wait_for_sleepers(ex, 2)
        assert len(sleepers) == 2
        frozen = next(p for p in sleepers[0].parents() if "spawn_main" in " ".join(p.cmdline()))
        frozen.suspend()
        ended: list[list[FragmentOutcome]] = []
        interrupting = threading.Thread(target=lambda: ended.append(ex.interrupt()), daemon=True)
        interrupting.start()
        interrupting.join(60)  # kill_grace + 3 s + 10 s, bounded; it was for ever
        assert ended, "the interruption waited for the stopped worker"
        assert sorted(o.index for o in ended[0]) == [0, 1]
    finally:
        if frozen is not None:
            frozen.resume()
        ex.shutdown()


def test_a_fragment_that_ended_before_an_interruption_keeps_its_outcome(tmp_path: Path, no_survivors: None) -> None:
    """Its outcome had not reached the engine when Ctrl-C came: it was lost, ERROR "interrupted".

    The outcome is large (over 16 KiB: it travels as its batch's result),
    and the engine's first look at what came back is made to find nothing
    yet, as when it was still on its way. The fragment still running has
    its command killed, and is interrupted.
    """
    ex = executor(workers=2, jobs=2)
    ex.start()
    try:
        big = "sleep 1; yes x | head -c 40000"
        ex.submit(make_task(0, dask_support.shell, tmp_path, cmd=big))
        ex.submit(make_task(1, dask_support.shell, tmp_path, cmd="sleep 60"))
        assert len(wait_for_sleepers(ex, 2)) == 2
        deadline = time.monotonic() + 30
        while not all(b.future.done() for b in ex._batches.values() if "t0:" in b.key) and time.monotonic() < deadline:
            time.sleep(0.05)
        collect, looks = ex._collect, []

        def late() -> list[FragmentOutcome]:
            looks.append(1)
            return [] if len(looks) == 1 else collect()  # the first look: nothing came yet

        ex._collect = late  # type: ignore[method-assign]
        outcomes = {o.index: o for o in ex.interrupt()}
    finally:
        ex.shutdown()
    assert outcomes[0].state is FragmentState.COMPLETE and outcomes[0].return_value == 0
    assert "x\nx\nx\n" in outcomes[0].delta.log
    assert outcomes[1].state is FragmentState.ABORTED and outcomes[1].error == "interrupted"
