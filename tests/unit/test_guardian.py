"""A process that dies, however it dies, leaves none of its tagged commands behind its guardian.

The Dask workers' case: distributed ends a LocalCluster's worker with
``os._exit`` the moment a SIGKILLed engine leaves it, and an OOM kill ends
any process without a word. Checked with psutil on real processes, and
end to end with a real LocalCluster whose engine alone is SIGKILLed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from test_interrupt_run import make_suite, mark, start, survivors, wait_running

REPO = Path(__file__).resolve().parents[2]

# A process that starts a guardian, then two commands tagged as process.run
# tags them (each in a session of its own), and one untagged; then waits.
TAGGER = """
import os, subprocess, sys, time
import e3suite.guardian as guardian
from e3suite.process_tree import TAG_VARIABLE
keep = guardian.start()
mark = sys.argv[1]
for n in (1, 2):
    env = {**os.environ, TAG_VARIABLE: f"{os.getpid()}:{n}"}
    subprocess.Popen(["sleep", mark], env=env, start_new_session=True)
subprocess.Popen(["sleep", mark + "1"], start_new_session=True)  # not ours to kill
print(keep.pid, flush=True)
time.sleep(600)
"""


def _alive(proc: psutil.Process) -> bool:
    try:  # one that ends between two questions is gone
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _gone_within(processes: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    left = processes
    while time.monotonic() < deadline:
        left = [p for p in processes if _alive(p)]
        if not left:
            break
        time.sleep(0.1)
    return left


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_the_tagged_commands_of_a_dead_process_are_killed(how: int) -> None:
    text = mark()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    tagger = subprocess.Popen([sys.executable, "-c", TAGGER, text], env=env, stdout=subprocess.PIPE, text=True)
    untagged: list[psutil.Process] = []
    try:
        assert tagger.stdout is not None
        guardian_pid = int(tagger.stdout.readline())
        wait_running(text, 3)
        tagged = [p for p in survivors(text) if p.cmdline() == ["sleep", text]]
        untagged = [p for p in survivors(text) if p.cmdline() == ["sleep", text + "1"]]
        assert len(tagged) == 2 and len(untagged) == 1
        tagger.send_signal(how)
        tagger.wait(30)
        assert _gone_within([*tagged, psutil.Process(guardian_pid)], 10) == []
        assert all(p.is_running() for p in untagged), "an untagged process was killed"
    finally:
        tagger.kill()
        for proc in untagged + survivors(text):
            proc.kill()


def test_a_guardian_whose_process_lives_on_does_nothing() -> None:
    text = mark()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    tagger = subprocess.Popen([sys.executable, "-c", TAGGER, text], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert tagger.stdout is not None
        guardian_pid = int(tagger.stdout.readline())
        wait_running(text, 3)
        time.sleep(1)
        assert len([p for p in survivors(text) if p.name() == "sleep"]) == 3
        assert psutil.Process(guardian_pid).is_running()
    finally:
        tagger.kill()
        tagger.wait(30)
        for proc in survivors(text):
            proc.kill()


def test_a_sigkilled_engine_on_dask_leaves_nothing_running(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    text = mark()
    make_suite(tmp_path, {f"t{i}": {"cmd": f"sleep {text}"} for i in range(4)})
    (tmp_path / "e3suite.yaml").write_text("executors:\n  dask: {type: dask, workers: 2, threads_per_worker: 1}\n")
    proc = start(tmp_path, "--dask", "--progress", "none")
    try:
        wait_running(text, 2)
        engine = psutil.Process(proc.pid)
        started = engine.children(recursive=True) + survivors(text)
        os.kill(proc.pid, signal.SIGKILL)  # the engine alone, as kill -9 PID or the OOM killer would
        proc.wait(30)
        left = _gone_within(started, 15)
        assert left == [], f"still running 15 s after the engine died: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in survivors(text):
            p.kill()


def test_a_run_waits_for_the_guardians_of_its_workers_and_kills_one_that_lingers() -> None:
    """A --dask run ended while a lost worker's guardian still swept: it outlived the run ([LEAK] under load)."""
    import e3suite.guardian as guardian

    guarded = subprocess.Popen(["sleep", "300"])
    try:
        done = guardian.start(guarded.pid)
        assert done.stdin is not None
        done.stdin.close()  # as when its worker dies: it sweeps, then ends on its own
        assert guardian.wait_guardians([guarded.pid], timeout=60) == []
        assert done.wait(10) == 0
        stuck = guardian.start(guarded.pid)  # its stdin held open: it would wait for ever
        deadline = time.monotonic() + 30
        while not any(pid == stuck.pid for pid, _ in guardian._processes_of("e3suite.guardian")):
            assert time.monotonic() < deadline, "the guardian never started"
            time.sleep(0.05)
        assert guardian.wait_guardians([guarded.pid], timeout=0.5) == [stuck.pid]
        assert stuck.wait(10) == -signal.SIGKILL
    finally:
        guarded.kill()
        guarded.wait()
