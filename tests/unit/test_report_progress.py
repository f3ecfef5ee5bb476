"""Live progress: the status text, the time-left estimate, bar and lines modes."""

from __future__ import annotations

import io

from e3suite.events import FragmentEnded, FragmentStarted, TestFinished
from e3suite.model import FragmentState, TestResult, TestStatus
from e3suite.reports.progress import ProgressListener, format_clock, resolve_mode
from e3suite.reports.terminal import TerminalReporter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def started(test_id: str, slot: int) -> FragmentStarted:
    return FragmentStarted(0, f"{test_id}:run", test_id, 1, slot, 0.0, None)


def ended(test_id: str, slot: int) -> FragmentEnded:
    return FragmentEnded(0, f"{test_id}:run", test_id, 1, FragmentState.COMPLETE, slot, 0.0, 1.0)


def finished(test_id: str, status: TestStatus, duration: float) -> TestResult:
    result = TestResult(test_id, status)
    result.duration = duration
    return result


def test_format_clock() -> None:
    assert [format_clock(s) for s in (0, 59.6, 61, 3600 + 62)] == ["0:00", "1:00", "1:01", "1:01:02"]


def test_auto_mode() -> None:
    assert resolve_mode("auto", True) == "bar"
    assert resolve_mode("auto", False) == "lines"
    assert resolve_mode("none", True) == "none"


def test_status_and_estimate_from_previous_durations() -> None:
    clock = FakeClock()
    reporter = TerminalReporter(stream=io.StringIO(), no_color=True)
    progress = ProgressListener(
        reporter, "lines", ["a", "b", "c", "d"], jobs=2, previous_durations={"b": 10.0, "c": 20.0, "d": 30.0},
        clock=clock,
    )
    progress.fragment_started(started("a", 0))
    progress.fragment_started(started("a", 1))
    assert progress.status_text() == "[0/4] 0 failed, 2 running, 0:00 elapsed"  # "a": no estimate yet
    progress.fragment_started(started("a", 1))  # a late event
    assert progress.status_text() == "[0/4] 0 failed, 2 running, 0:00 elapsed"  # never more than -j
    progress.fragment_ended(ended("a", 0))
    progress.fragment_ended(ended("a", 1))
    progress.test_finished(TestFinished(finished("a", TestStatus.FAIL, 4.0)))
    clock.now += 65
    # Left: (10 + 20 + 30) / 2 slots.
    assert progress.status_text() == "[1/4] 1 failed, 1 running, 1:05 elapsed, ~0:30 left"
    progress.stop()


def test_unknown_tests_are_estimated_from_this_run() -> None:
    reporter = TerminalReporter(stream=io.StringIO(), no_color=True)
    progress = ProgressListener(reporter, "lines", ["a", "b", "c"], jobs=1, clock=FakeClock())
    progress.test_finished(TestFinished(finished("a", TestStatus.PASS, 6.0)))
    assert progress.estimate_left() == 12.0


def test_lines_mode_prints_a_line_per_interval() -> None:
    clock = FakeClock()
    stream = io.StringIO()
    reporter = TerminalReporter(stream=stream, no_color=True)
    progress = ProgressListener(reporter, "lines", ["a", "b"], jobs=1, interval=30.0, clock=clock)
    progress.tick()
    assert stream.getvalue() == ""
    clock.now += 31
    progress.tick()
    progress.tick()
    assert stream.getvalue() == "e3suite: [0/2] 0 failed, 0 running, 0:31 elapsed\n"


def test_bar_mode_redraws_below_result_lines_and_clears_at_the_end() -> None:
    stream = TtyStream()
    reporter = TerminalReporter(stream=stream, no_color=True)
    progress = ProgressListener(reporter, "auto", ["a", "b"], jobs=1, clock=FakeClock())
    assert progress.mode == "bar"
    result = finished("a", TestStatus.PASS, 1.0)
    reporter.test_finished(result)
    progress.test_finished(TestFinished(result))
    reporter.test_finished(finished("b", TestStatus.PASS, 1.0))
    progress.stop()
    bar = "##########---------- [1/2] 0 failed, 0 running, 0:00 elapsed, ~0:01 left"
    assert stream.getvalue() == (
        "PASS   a\n"
        f"\r\x1b[K{bar}"  # the status line drawn
        f"\r\x1b[KPASS   b\n{bar}"  # erased, a result line, drawn again
        "\r\x1b[K"  # removed at the end
    )


def test_ticker_thread_stops() -> None:
    import threading

    reporter = TerminalReporter(stream=TtyStream(), no_color=True)
    progress = ProgressListener(reporter, "bar", ["a"], jobs=1)
    progress.fragment_started(started("a", 0))
    assert any(t.name == "e3suite-progress" for t in threading.enumerate())
    progress.stop()
    assert not any(t.name == "e3suite-progress" for t in threading.enumerate())


def test_the_estimate_counts_what_running_testcases_already_spent() -> None:
    clock = FakeClock()
    reporter = TerminalReporter(stream=io.StringIO(), no_color=True)
    progress = ProgressListener(
        reporter, "lines", ["a", "b"], jobs=1, previous_durations={"a": 10.0, "b": 20.0}, clock=clock
    )
    assert progress.estimate_left() == 30.0
    progress.fragment_started(started("b", 0))
    clock.now += 15
    assert progress.estimate_left() == 15.0  # b has 5 s left, a 10 s
    clock.now += 60
    assert progress.estimate_left() == 10.0  # b overran: it is not counted below zero
    progress.test_finished(TestFinished(finished("b", TestStatus.PASS, 75.0)))
    assert progress.estimate_left() == 10.0


def test_fragments_held_back_for_a_resource_are_shown() -> None:
    from e3suite.events import FragmentQueued, FragmentWaiting

    reporter = TerminalReporter(stream=io.StringIO(), no_color=True)
    progress = ProgressListener(reporter, "lines", ["a", "b", "c"], jobs=2, clock=FakeClock())
    progress.fragment_waiting(FragmentWaiting(1, "b:run", "b", "gpu (1 of 2)"))
    progress.fragment_waiting(FragmentWaiting(2, "c:run", "c", "gpu (1 of 2)"))
    assert progress.status_text() == "[0/3] 0 failed, 0 running, 2 waiting for gpu, 0:00 elapsed"
    progress.fragment_queued(FragmentQueued(1, "b:run", "b", 1))
    assert "1 waiting for gpu" in progress.status_text()


def test_a_testcase_waiting_for_its_retry_has_its_delay_and_duration_left() -> None:
    """It counted as running and overdue: ~0:00 left while a 30 s retry delay went on."""
    from e3suite.events import AttemptFailed

    clock = FakeClock()
    reporter = TerminalReporter(stream=io.StringIO(), no_color=True)
    progress = ProgressListener(reporter, "lines", ["a"], jobs=1, previous_durations={"a": 2.0}, clock=clock)
    progress.fragment_started(started("a", 0))
    clock.now += 3
    assert progress.estimate_left() == 0.0  # overran
    progress.attempt_failed(AttemptFailed("a", 1, 3, TestStatus.FAIL, "bad", 30.0, ("a:run",)))
    assert progress.estimate_left() == 32.0  # the delay, then the attempt
    clock.now += 10
    assert progress.estimate_left() == 22.0
    clock.now += 20
    progress.fragment_started(started("a", 0))
    assert progress.estimate_left() == 2.0


def test_the_live_line_is_cut_to_the_terminal_width_and_follows_a_resize() -> None:
    """A longer line wraps, and each redraw's \\r then leaves a row behind: on a real pty of 40, then 60 columns."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    master, slave = pty.openpty()

    def resize(columns: int) -> None:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))

    def shown(text: str) -> str:
        reporter.set_status(text)
        data = os.read(master, 4096).decode()
        return data.rsplit("\x1b[K", 1)[-1]

    resize(40)
    with os.fdopen(slave, "w", closefd=True) as stream:
        reporter = TerminalReporter(stream=stream, no_color=True)
        long = "#################### [ 123/1000] 3 failed, 2 running, 0:12 elapsed, ~1:03 left"
        assert shown(long) == long[:36] + "..."
        resize(60)
        assert shown(long) == long[:56] + "..."
        assert shown("[1/2] 0 failed") == "[1/2] 0 failed"
    os.close(master)
