"""Stopping a run: Ctrl-C, SIGTERM, a second Ctrl-C, failure limits; and crashes in a real run.

Each test writes a small suite whose fragments run commands through
``ctx.shell``, runs ``python testsuite.py`` as a user would, and checks what
the user sees (lines, exit code, results directory) and that no process the
run started survives it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psutil

import e3suite.store as store

REPO = Path(__file__).resolve().parents[2]

SUITE = '''
import os
import sys

from e3suite import FragmentContext, TestDriver, Testsuite, TestStatus


class CommandDriver(TestDriver):
    def add_fragments(self):
        self.add_fragment("run", self.run)

    def run(self, ctx: FragmentContext):
        if self.test_env.get("print_mb"):
            # Straight to the inherited stdout, not through ctx.shell.
            for _ in range(self.test_env["print_mb"]):
                print("x" * (1 << 20))
        if self.test_env.get("segfault"):
            import signal
            os.kill(os.getpid(), signal.SIGSEGV)
        result = ctx.shell(self.test_env["cmd"])
        ctx.result.set_status(TestStatus.PASS if result.ok else TestStatus.FAIL, result.describe())


class Suite(Testsuite):
    test_driver_map = {"command": CommandDriver}
    default_driver = "command"


if __name__ == "__main__":
    sys.exit(Suite().main())
'''


def make_suite(root: Path, tests: dict[str, dict[str, object]]) -> Path:
    (root / "testsuite.py").write_text(SUITE)
    for name, env in tests.items():
        case = root / "tests" / name
        case.mkdir(parents=True)
        (case / "test.yaml").write_text(json.dumps(env))
    return root


def start(root: Path, *args: str, new_session: bool = False) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "testsuite.py", "--no-color", *args],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=new_session,
    )


def mark() -> str:
    return f"{500 + (uuid.uuid4().int % 10_000) / 1000:.3f}"


def survivors(text: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if any(text in arg for arg in proc.info["cmdline"] or []) and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def wait_running(text: str, count: int) -> None:
    deadline = time.monotonic() + 30
    while len([p for p in survivors(text) if p.name() == "sleep"]) < count:
        assert time.monotonic() < deadline, "the commands never started"
        time.sleep(0.05)


def finish(proc: subprocess.Popen[str], text: str) -> tuple[int, str]:
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 5
    while survivors(text) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert survivors(text) == [], "a process of the run survived it"
    return proc.returncode, out


def long_suite(root: Path, text: str, command: str = "sleep {m}") -> Path:
    tests: dict[str, dict[str, object]] = {f"t{i}": {"cmd": command.format(m=text)} for i in range(1, 5)}
    return make_suite(root, tests)


def check_results_dir(root: Path) -> dict[str, str]:
    index = json.loads((root / "out" / "new" / "index.json").read_text())
    return {entry["test"]: f"{entry['status']} {entry['message']}" for entry in index["results"]}


def test_ctrl_c_interrupts_running_and_skips_the_rest(tmp_path: Path) -> None:
    text = mark()
    root = long_suite(tmp_path, text, "setsid sleep {m} & sleep {m}")
    proc = start(root, "-j2")
    wait_running(text, 4)  # two testcases, each with a setsid grandchild
    proc.send_signal(signal.SIGINT)
    code, out = finish(proc, text)
    assert code == 130
    assert "ERROR  t1: interrupted" in out
    assert "ERROR  t2: interrupted" in out
    assert "SKIP   t3: not run: interrupted" in out
    assert "SKIP   t4: not run: interrupted" in out
    assert "Traceback" not in out
    assert check_results_dir(root) == {
        "t1": "ERROR interrupted",
        "t2": "ERROR interrupted",
        "t3": "SKIP not run: interrupted",
        "t4": "SKIP not run: interrupted",
    }


def test_sigterm_exits_143(tmp_path: Path) -> None:
    text = mark()
    root = long_suite(tmp_path, text)
    proc = start(root, "-j2")
    wait_running(text, 2)
    proc.send_signal(signal.SIGTERM)
    code, out = finish(proc, text)
    assert code == 143
    assert "ERROR  t1: interrupted" in out
    assert check_results_dir(root)["t4"] == "SKIP not run: interrupted"


def test_sigterm_to_the_whole_process_group(tmp_path: Path) -> None:
    """As a CI runner cancelling a job does: the workers get SIGTERM too."""
    text = mark()
    root = long_suite(tmp_path, text)
    proc = start(root, "-j2", new_session=True)
    wait_running(text, 2)
    os.killpg(proc.pid, signal.SIGTERM)
    code, out = finish(proc, text)
    assert code == 143
    assert "ERROR  t1: interrupted" in out
    assert "ERROR  t2: interrupted" in out
    assert "Traceback" not in out


def test_second_ctrl_c_cuts_the_grace_period(tmp_path: Path) -> None:
    text = mark()
    root = long_suite(tmp_path, text, "trap '' TERM; sleep {m}")
    proc = start(root, "-j2", "--kill-grace", "120")
    wait_running(text, 2)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert proc.poll() is None  # waiting out the grace period: the commands ignore SIGTERM
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    code, out = finish(proc, text)
    assert time.monotonic() - started < 60
    assert code == 130
    assert "ERROR  t1: interrupted" in out
    assert "Traceback" not in out


def test_max_failures_skips_what_did_not_run(tmp_path: Path) -> None:
    tests: dict[str, dict[str, object]] = {f"t{i}": {"cmd": "exit 1"} for i in range(1, 5)}
    root = make_suite(tmp_path, tests)
    proc = start(root, "-j1", "--max-failures", "2")
    code, out = finish(proc, "no-such-marker")
    assert code == 1
    assert "SKIP   t4: not run: failure limit reached" in out
    assert check_results_dir(root) == {
        "t1": "FAIL exit status 1",
        "t2": "FAIL exit status 1",
        "t3": "SKIP not run: failure limit reached",
        "t4": "SKIP not run: failure limit reached",
    }


def test_max_consecutive_failures(tmp_path: Path) -> None:
    tests: dict[str, dict[str, object]] = {"t1": {"cmd": "exit 1"}, "t2": {"cmd": "true"}, "t3": {"cmd": "exit 1"}}
    tests |= {"t4": {"cmd": "exit 1"}, "t5": {"cmd": "true"}}
    root = make_suite(tmp_path, tests)
    proc = start(root, "-j1", "-M", "2")
    code, _ = finish(proc, "no-such-marker")
    assert code == 1
    assert check_results_dir(root)["t5"] == "SKIP not run: failure limit reached"
    assert check_results_dir(root)["t2"] == "PASS exit status 0"


def test_a_segfaulting_worker_fails_only_its_testcase(tmp_path: Path) -> None:
    tests: dict[str, dict[str, object]] = {"crash": {"cmd": "true", "segfault": True}}
    tests |= {f"ok{i}": {"cmd": "true"} for i in range(4)}
    root = make_suite(tmp_path, tests)
    proc = start(root, "-j2")
    code, out = finish(proc, "no-such-marker")
    assert code == 1
    assert "ERROR  crash: worker died (signal 11) while running crash:run" in out
    results = check_results_dir(root)
    assert [results[f"ok{i}"] for i in range(4)] == ["PASS exit status 0"] * 4


def test_timeout_verdict_and_tree_kill_in_a_run(tmp_path: Path) -> None:
    text = mark()
    tests: dict[str, dict[str, object]] = {"slow": {"cmd": f"setsid sleep {text} & sleep {text}", "timeout": 0.5}}
    root = make_suite(tmp_path, tests)
    proc = start(root, "-j1", "--kill-grace", "0.5")
    code, out = finish(proc, text)
    assert code == 1
    assert "FAIL   slow: timed out after 0.5 s" in out
    [record] = store.load_records(root / "out" / "new").values()
    assert record["failure_reasons"] == ["TIMEOUT"]
    assert record["processes"][0]["timed_out"] is True


def test_in_process_executor_still_available(tmp_path: Path) -> None:
    root = make_suite(tmp_path, {"t": {"cmd": "echo hi"}})
    proc = start(root, "-j1", "--in-process")
    code, out = finish(proc, "no-such-marker")
    assert code == 0, out
    assert textwrap.dedent(out).strip().endswith("e3suite: 1 passed, 0 failed, 0 skipped")


def test_a_callback_printing_megabytes_does_not_block(tmp_path: Path) -> None:
    root = make_suite(tmp_path, {"chatty": {"cmd": "true", "print_mb": 8}, "quiet": {"cmd": "true"}})
    proc = start(root, "-j2")
    code, out = finish(proc, "no-such-marker")
    assert code == 0
    assert len(out) > 8 << 20
    assert out.endswith("e3suite: 2 passed, 0 failed, 0 skipped\n")
