"""The status file's fragment counts add up, whatever became of a queued fragment."""

from __future__ import annotations

import argparse
from pathlib import Path

from e3suite.discovery import Testcase
from e3suite.driver import FragmentContext, TestDriver
from e3suite.events import FragmentQueued, RunEnded, TestFinished
from e3suite.model import TestResult, TestStatus
from e3suite.plan import build_plan
from e3suite.reports.status import StatusSink


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
