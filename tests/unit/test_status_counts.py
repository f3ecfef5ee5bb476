"""The status file's fragment counts add up, whatever became of a queued fragment; its waiting reasons are current."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from e3suite.admission import BACK_TO_A_SLOT
from e3suite.discovery import Testcase
from e3suite.driver import FragmentContext, TestDriver
from e3suite.engine import Engine
from e3suite.events import EventBus, FragmentEnded, FragmentQueued, FragmentWaiting, RunEnded, Sink, TestFinished
from e3suite.executors.inprocess import InProcessExecutor
from e3suite.model import TestResult, TestStatus
from e3suite.plan import build_plan
from e3suite.reports.status import StatusSink
from e3suite.store import ResultsWriter


class One(TestDriver):
    def add_fragments(self) -> None:
        self.add_fragment("run", self.run)

    def run(self, ctx: FragmentContext) -> None:
        ctx.result.set_status(TestStatus.PASS)


def test_a_fragment_given_back_unstarted_then_not_run_is_not_left_queued(tmp_path: Path) -> None:
    # At -j2 a worker holds one fragment queued behind the running one; an
    # interruption gives it back unstarted and it is never run: its testcase
    # ends SKIP without a fragment_ended. The status of a 10,000-testcase run
    # stopped by SIGTERM read "ended": 10000 of 10000 and "queued": 1.
    cases = [Testcase(name, tmp_path, {}, One) for name in ("a", "b")]
    plan = build_plan(cases, argparse.Namespace(), tmp_path / "work")
    sink = StatusSink(tmp_path, plan, 2, {})
    for name in ("a", "b"):
        sink.fragment_queued(FragmentQueued(plan.tests[name].fragments["run"], f"{name}:run", name, 1))
    for name in ("a", "b"):
        sink.test_finished(TestFinished(TestResult(name, TestStatus.SKIP, "not run: interrupted")))
    sink.run_ended(RunEnded(0.0, 0.0, True, None))
    fragments = sink.snapshot()["fragments"]
    assert fragments["ended"] == fragments["total"] == 2
    assert fragments["queued"] == fragments["running"] == 0


def test_the_status_file_is_written_at_each_look_of_a_quiet_run(tmp_path: Path) -> None:
    """The engine looks in every 0.5 s; the write was due 0.5 s after the last one *ended*, so every other look
    missed it: a fragment that ran for most of a second was never shown running."""
    from e3suite.events import FragmentStarted
    from e3suite.reports import status

    now = [1000.0]

    def clock() -> float:
        now[0] += 0.001  # every reading takes a little time, as writing the file does
        return now[0]

    cases = [Testcase(name, tmp_path, {}, One) for name in ("a", "b")]
    plan = build_plan(cases, argparse.Namespace(), tmp_path / "work")
    sink = StatusSink(tmp_path, plan, 2, {}, clock=clock)
    written: list[str] = []

    class Writer:
        def put(self, text: str) -> None:
            written.append(text)

        def close(self) -> None:
            pass

    sink._writer.close()
    sink._writer = Writer()  # type: ignore[assignment]
    look = now[0]
    sink.housekeeping(0.0)
    assert len(written) == 1
    for name in ("a", "b"):
        sink.fragment_started(FragmentStarted(plan.tests[name].fragments["run"], f"{name}:run", name, 1, 0, 0.0, 1))
        look += status.MIN_INTERVAL  # the engine's next look, one period after the last
        now[0] = look
        sink.housekeeping(0.0)
    assert len(written) == 3


class Nap(TestDriver):
    def add_fragments(self) -> None:
        self.add_fragment("run", self.run)

    def run(self, ctx: FragmentContext) -> None:
        time.sleep(0.05)
        ctx.result.set_status(TestStatus.PASS)


def test_a_waiting_reason_ends_with_what_it_named(tmp_path: Path) -> None:
    """After the serial fragment ended, the status said the others waited for it until each one started."""
    tests: dict[str, dict[str, Any]] = {"alone": {"serial": True}, **{f"f{i}": {} for i in range(6)}}
    cases = [Testcase(name, tmp_path, env, Nap) for name, env in tests.items()]
    ns = argparse.Namespace(jobs=2)
    plan = build_plan(cases, ns, tmp_path / "work", estimates={"alone": 10.0})
    writer = ResultsWriter(tmp_path / "results")
    sink = StatusSink(tmp_path / "results", plan, 2, {})
    looks: list[tuple[bool, dict[str, str]]] = []

    class Probe(Sink):
        alone_ended = False

        def fragment_ended(self, event: FragmentEnded) -> None:
            self.alone_ended = self.alone_ended or event.test_id == "alone"

        def housekeeping(self, now: float) -> None:  # the engine's look, after each pass of admission
            waiting = {w["fragment"]: w["waits_for"] for w in sink.snapshot()["waiting"]}
            looks.append((self.alone_ended, waiting))

    results = Engine(plan, InProcessExecutor(2), EventBus([writer, sink, Probe()]), ns).run()
    writer.close()
    sink.run_ended(RunEnded(0.0, 0.0, False, None))
    assert {r.status for r in results} == {TestStatus.PASS}
    before = [waiting for ended, waiting in looks if not ended]
    assert before and set(before[0].values()) == {"a serial fragment running alone"}, looks
    after = [waiting for ended, waiting in looks if ended]
    assert after and any(after), looks  # some did wait after it, for a slot
    for waiting in after:
        assert set(waiting.values()) <= {"a free slot"}, looks
    assert sink.held == {}


def test_the_sinks_drop_a_reason_that_is_over() -> None:
    import io

    from e3suite.reports.progress import ProgressListener
    from e3suite.reports.terminal import TerminalReporter

    progress = ProgressListener(TerminalReporter(stream=io.StringIO(), no_color=True), "lines", ["b", "c"], jobs=2)
    progress.fragment_waiting(FragmentWaiting(1, "b:run", "b", "gpu (1 of 1)"))
    progress.fragment_waiting(FragmentWaiting(2, "c:run", "c", "gpu (1 of 1)"))
    assert ", 2 waiting for gpu," in progress.status_text()
    progress.fragment_waiting(FragmentWaiting(1, "b:run", "b", BACK_TO_A_SLOT))
    assert ", 1 waiting for gpu," in progress.status_text()
    # Never queued (the run stopped, a failure limit): it waits no more once its testcase has a verdict.
    progress.test_finished(TestFinished(TestResult("c", TestStatus.SKIP, "not run: interrupted")))
    assert "waiting for" not in progress.status_text()
