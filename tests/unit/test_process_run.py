"""e3suite.process: what a driver gets back from a command, and what it leaves behind."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psutil
import pytest

from e3suite import command_output, process, process_tree


def marker() -> str:
    """A unique sleep duration, to find processes of one test by their argv."""
    return f"{300 + (uuid.uuid4().int % 10_000) / 1000:.3f}"


def survivors(mark: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if mark in (proc.info["cmdline"] or []) and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def wait_no_survivors(mark: str) -> list[psutil.Process]:
    """Processes we killed may take a moment to leave the table."""
    deadline = time.monotonic() + 5
    while (left := survivors(mark)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_argv_output_and_status() -> None:
    result = process.run([sys.executable, "-c", "print('hello'); raise SystemExit(3)"])
    assert result.status == 3
    assert result.signal is None
    assert result.output == "hello\n"
    assert result.output_size == 6
    assert not result.ok
    assert result.describe() == "exit status 3"
    assert result.wall > 0 and result.cpu >= 0


def test_string_command_runs_through_sh_with_env_cwd_stdin(tmp_path: Path) -> None:
    result = process.run("echo $GREETING; pwd; cat", cwd=tmp_path, env={"GREETING": "hi"}, stdin="from stdin")
    assert result.argv == ["/bin/sh", "-c", "echo $GREETING; pwd; cat"]
    assert result.ok
    assert result.output == f"hi\n{tmp_path}\nfrom stdin"


def test_stdin_larger_than_a_pipe_while_output_flows() -> None:
    data = "x" * 1_000_000
    result = process.run(["cat"], stdin=data)
    assert result.output_size == 1_000_000
    assert result.output == data


def test_stderr_merged_or_apart() -> None:
    merged = process.run("echo out; echo err >&2")
    assert sorted(merged.output.split()) == ["err", "out"]
    assert merged.stderr is None
    apart = process.run("echo out; echo err >&2", merge_stderr=False)
    assert apart.output == "out\n"
    assert apart.stderr == "err\n"
    assert apart.to_json()["stderr"] == "err\n"


def test_ten_megabytes_of_output_is_capped_head_and_tail() -> None:
    script = "import sys; sys.stdout.write('H' * 100 + 'x' * 9_999_800 + 'T' * 100)"
    result = process.run([sys.executable, "-c", script], output_limit=1000, timeout=60)
    assert result.ok
    assert result.output_size == 10_000_000
    assert result.output.startswith("H" * 100)
    assert result.output.endswith("T" * 100)
    assert "[... 9999000 bytes omitted ...]" in result.output
    assert len(result.to_json()["output"]) < 2000


def test_output_over_the_cap_is_kept_whole_in_an_unnamed_file(tmp_path: Path) -> None:
    script = "import sys\nfor i in range(400_000): sys.stdout.write(f'line {i}\\n')"
    expected = "".join(f"line {i}\n" for i in range(400_000))
    result = process.run([sys.executable, "-c", script], output_limit=1000, timeout=60, cwd=tmp_path)
    assert result.output_capped and "bytes omitted" in result.output  # what logs and records show
    assert result.full_output() == expected  # what a comparison reads
    assert list(tmp_path.iterdir()) == []  # the command never saw a file in its directory
    again = pickle.loads(pickle.dumps(result))  # a callback's return value: the file stays behind
    assert again.output == result.output and again.full_output() is None


def test_output_past_the_full_limit_is_not_offered_for_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(command_output, "FULL_OUTPUT_LIMIT", 10_000)
    result = process.run("head -c 50000 /dev/zero", output_limit=1000)
    assert result.ok and result.output_size == 50_000 and result.output_capped
    assert result.full_output() is None  # never a silently truncated text


def test_output_under_the_cap_needs_no_file() -> None:
    result = process.run("echo out; echo err >&2", merge_stderr=False, output_limit=1000)
    assert not result.output_capped and result.output_file is None
    assert result.full_output() == "out\n" and result.full_stderr() == "err\n"
    big_err = process.run("head -c 5000 /dev/zero | tr '\\0' e >&2", merge_stderr=False, output_limit=100)
    assert big_err.stderr_capped and big_err.full_stderr() == "e" * 5000


def test_a_timeout_longer_than_poll_can_wait_is_no_overflow() -> None:
    # poll() takes a C int of milliseconds: 1e9 s used to raise OverflowError.
    assert process.run("sleep 0.1", timeout=1e9).ok


def test_a_program_found_but_not_runnable_exits_126_as_in_a_shell(tmp_path: Path) -> None:
    """`./run.sh: Permission denied` said exit status 127, a shell's "not found"."""
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")  # no execute permission
    result = process.run(["./run.sh"], cwd=tmp_path)
    assert (result.status, result.error) == (126, "./run.sh: Permission denied")
    result = process.run([str(tmp_path)])  # a directory
    assert result.status == 126 and result.error is not None
    assert process.run(["./no-such-program"], cwd=tmp_path).status == 127


def test_command_that_cannot_start() -> None:
    result = process.run(["/nonexistent/program"])
    assert result.status == 127
    assert result.error is not None and "No such file" in result.error
    assert result.describe().startswith("cannot run: /nonexistent/program")


def test_killed_by_a_signal() -> None:
    result = process.run("kill -SEGV $$")
    assert result.status is None
    assert result.signal == signal.SIGSEGV
    assert result.describe() == "killed by SIGSEGV"
    assert result.to_json()["signal"] == 11


def test_each_command_runs_in_a_new_session() -> None:
    result = process.run([sys.executable, "-c", "import os; print(os.getsid(0) == os.getpid())"])
    assert result.output == "True\n"


def test_timeout_kills_a_setsid_grandchild() -> None:
    mark = marker()
    # The grandchild leaves the group: only a walk of the tree finds it.
    cmd = f"setsid sleep {mark} & sleep {mark}"
    start = time.monotonic()
    result = process.run(cmd, timeout=0.5, kill_grace=0.5)
    assert time.monotonic() - start < 30
    assert result.timed_out
    assert result.timeout == 0.5
    assert result.describe().startswith("timed out after 0.5 s")
    assert result.to_json()["timed_out"] is True
    assert wait_no_survivors(mark) == []


def test_timeout_sigterm_then_sigkill_after_the_grace() -> None:
    mark = marker()
    # The timeout leaves the shell time to set its trap even on a loaded
    # machine (at 0.3 s, SIGTERM sometimes came first and ended it).
    result = process.run(f"trap '' TERM; sleep {mark}", timeout=2.0, kill_grace=0.3)
    assert result.timed_out
    assert result.signal == signal.SIGKILL  # SIGTERM was ignored
    assert result.wall >= 2.3
    assert wait_no_survivors(mark) == []


def test_timeout_a_process_that_ends_on_sigterm_is_not_killed() -> None:
    result = process.run("sleep 30", timeout=0.3, kill_grace=30)
    assert result.timed_out
    assert result.signal == signal.SIGTERM
    assert result.wall < 20


def test_leaked_background_process_is_killed_and_counted() -> None:
    mark = marker()
    result = process.run(f"sleep {mark} > /dev/null 2>&1 & echo started")
    assert result.status == 0
    assert result.output == "started\n"
    assert result.leaked == 1
    assert result.describe() == "exit status 0; left 1 process running"
    assert result.leaked_processes == [f"pid {result.leaked_processes[0].split()[1]} (sleep {mark})"]
    assert result.to_json()["leaked_processes"] == result.leaked_processes
    assert wait_no_survivors(mark) == []


def test_what_ends_on_its_own_within_the_leak_grace_is_no_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    """A daemon's child already in its exit, a pool's helper leaving as its pipe closes: no LEAK.

    Under load, LocalCluster's processes were still ending when the engine of
    a --dask run had exited: its run was reported "left 1 process running".
    """
    monkeypatch.setattr(process_tree, "LEAK_GRACE", 3.0)  # generous: the machine may be loaded
    long = marker()
    result = process.run(f"sleep 0.2 > /dev/null 2>&1 & sleep {long} > /dev/null 2>&1 & echo started")
    assert result.ok and result.leaked == 1, result.leaked_processes
    assert result.leaked_processes[0].endswith(f"(sleep {long})")
    assert wait_no_survivors(long) == []


def test_leak_holding_the_output_pipe_does_not_block() -> None:
    mark = marker()
    start = time.monotonic()
    result = process.run(f"sleep {mark} & echo started")
    assert time.monotonic() - start < 10
    assert result.output == "started\n"
    assert result.leaked == 1
    assert wait_no_survivors(mark) == []


def test_setsid_leak_is_found_by_a_subreaper(tmp_path: Path) -> None:
    """As in a worker: a subreaper adopts a setsid'd orphan, the leak check kills it."""
    mark = marker()
    script = textwrap.dedent(f"""
        import json
        from e3suite import process
        process.become_subreaper()
        result = process.run("(setsid sleep {mark} > /dev/null 2>&1 &) ; echo ok")
        print(json.dumps(result.to_json()))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["status"] == 0
    assert data["leaked"] == 1
    assert wait_no_survivors(mark) == []


def test_cpu_and_peak_rss_are_recorded() -> None:
    script = "x = bytearray(300 * 2**20); x[::4096] = b'x' * len(x[::4096])"
    result = process.run([sys.executable, "-c", script])
    assert result.ok
    assert result.peak_rss is not None and result.peak_rss > 300 * 2**20
    assert result.cpu > 0
    data = result.to_json()
    assert set(data) >= {"argv", "status", "signal", "timed_out", "wall", "cpu", "peak_rss", "leaked", "output"}


def test_the_peak_rss_of_a_command_smaller_than_its_runner_is_its_own() -> None:
    # Linux counts the spawning process's image in the child's ru_maxrss:
    # for a small command run by a large process, that figure says nothing.
    ballast = bytearray(200 * 2**20)
    ballast[::4096] = b"x" * len(ballast[::4096])
    result = process.run(["sleep", "0.3"])
    assert result.ok
    assert result.peak_rss is not None
    assert 0 < result.peak_rss < 50 * 2**20
    del ballast


def test_a_command_that_ends_at_once_has_no_peak_rather_than_a_page() -> None:
    """Read right after exec, the high-water mark is one page: a figure that says nothing."""
    peaks = [process.run(["true"]).peak_rss for _ in range(20)]
    assert all(peak is None or peak > 64 * 2**10 for peak in peaks), peaks


def test_kill_process_tree_reaches_setsid_descendants() -> None:
    mark = marker()
    proc = subprocess.Popen(["/bin/sh", "-c", f"setsid sleep {mark} & sleep {mark} & wait"], start_new_session=True)
    deadline = time.monotonic() + 10
    while len(survivors(mark)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(survivors(mark)) == 2
    killed = process.kill_process_tree(proc.pid, grace=0.5)
    proc.wait(10)
    assert killed == 3
    assert wait_no_survivors(mark) == []


def test_find_tagged_sees_the_tag_of_running_commands() -> None:
    mark = marker()
    proc = subprocess.Popen(["sleep", mark], env={**os.environ, process.TAG_VARIABLE: "test-tag:1"})
    try:
        deadline = time.monotonic() + 5
        while proc.pid not in process.find_tagged("test-tag:") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.pid in process.find_tagged("test-tag:")
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(("limit", "head", "tail", "omitted"), [(10, "01234", "bcdef", 6), (11, "012345", "bcdef", 5)])
def test_capture_keeps_exactly_head_and_tail(limit: int, head: str, tail: str, omitted: int) -> None:
    capture = command_output.Capture(limit)
    for chunk in (b"0123", b"4567", b"89ab", b"cdef"):
        capture.add(chunk)
    assert capture.size == 16
    assert capture.text() == f"{head}\n[... {omitted} bytes omitted ...]\n{tail}"


def test_capture_under_the_limit_is_whole() -> None:
    capture = command_output.Capture(100)
    capture.add(b"abc")
    capture.add("é".encode())
    assert capture.text() == "abcé"


@pytest.mark.parametrize("timeout", ["5", 0, -1, float("inf"), float("nan"), True])
def test_a_timeout_that_is_no_number_of_seconds_is_refused_before_anything_starts(timeout: object) -> None:
    with pytest.raises(ValueError, match=r"timeout=.*expected a finite number of seconds greater than 0"):
        process.run(["sh", "-c", "exit 0"], timeout=timeout)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cmd": ["echo", 3]}, "cmd[1] is 3 (int): expected a string"),
        ({"cmd": 42}, "cmd is 42 (int): expected a string or a list of strings"),
        ({"cmd": ["true"], "env": {"N": 3}}, "env['N'] is 3 (int): expected a string"),
    ],
)
def test_a_command_or_environment_holding_no_string_says_which_item(kwargs: dict, message: str) -> None:
    cmd = kwargs.pop("cmd")
    with pytest.raises(TypeError) as raised:
        process.run(cmd, **kwargs)
    assert str(raised.value) == message


def test_a_group_of_zombies_is_no_live_group() -> None:
    """After a timeout's SIGTERM, what is left of the command's group may be zombies that another
    process reaps in its own time (init, a non-reaping parent): they are dead, and the kill
    grace must not be waited for them (a `sh -c` command used to take the whole grace)."""
    from e3suite import process_tree

    # A parent that never reaps: its child, in a session of its own, exits at once.
    # (The Popen is kept: collected, it would reap its child.)
    code = (
        "import subprocess, time; child = subprocess.Popen(['true'], start_new_session=True); "
        "print(child.pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        deadline = time.monotonic() + 30
        while psutil.Process(child).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert process_tree._group_alive(child)  # kill(-group, 0) finds the zombie
        assert not process_tree._group_has_live_member(child)
    finally:
        parent.kill()
        parent.wait()


def test_a_missing_working_directory_is_named_not_the_program(tmp_path: Path) -> None:
    """"sh: No such file or directory" sent users looking for sh; the directory is what is missing."""
    missing = tmp_path / "gone"
    result = process.run(["sh", "-c", "true"], cwd=missing)
    assert result.status == 127
    assert result.error == f"sh: working directory {missing}: No such file or directory"


def test_keep_bytes_gives_the_output_as_written() -> None:
    """``output`` is UTF-8 text; callers with another encoding (the e3 compat layer) need the bytes."""
    result = process.run(["printf", "caf\\351\\n"], keep_bytes=True)
    assert result.output_bytes == b"caf\xe9\n"
    assert result.output == "caf\ufffd\n"
    assert pickle.loads(pickle.dumps(result)).output_bytes is None  # never crosses a pipe
    assert process.run(["printf", "x"]).output_bytes is None
