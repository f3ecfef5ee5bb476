"""Working roots that killed runs left are removed by the next run; nothing else is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

import e3suite.working_roots as working_roots

REPO = Path(__file__).resolve().parents[2]

SUITE = """
import sys
from e3suite import Testsuite
from e3suite.drivers import ShellDriver

class Suite(Testsuite):
    test_driver_map = {"shell": ShellDriver}
    default_driver = "shell"

if __name__ == "__main__":
    sys.exit(Suite().main())
"""


def make_suite(root: Path, command: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "testsuite.py").write_text(SUITE)
    for name in ("a", "b"):
        (root / "tests" / name).mkdir(parents=True)
        (root / "tests" / name / "test.yaml").write_text(f"cmd: {json.dumps(command)}\n")
    return root


def start(suite: Path, temp: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "testsuite.py", "-j2", "--progress", "none", "--temp-dir", str(temp), *args],
        cwd=suite, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def roots(temp: Path) -> list[Path]:
    return sorted(temp.glob("e3suite-*"))


def wait_for(condition: object, what: str, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def nothing_left(marker: str) -> bool:
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if marker in (proc.info["cmdline"] or []) and proc.status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.Error:
            continue
    return True


def test_the_root_of_a_killed_run_goes_with_the_next_run_and_a_live_ones_stays(tmp_path: Path) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    marker = "611.25"
    suite = make_suite(tmp_path / "suite", f"mkdir built && sleep {marker}")
    killed = start(suite, temp, "-o", str(tmp_path / "out1"))
    wait_for(lambda: len(list(temp.glob("e3suite-*/*/built"))) == 2, "the testcases never started")
    [left] = roots(temp)
    killed.send_signal(signal.SIGKILL)  # the engine alone: it cannot remove its root
    killed.communicate()
    wait_for(lambda: nothing_left(marker), "the killed run's commands survived it")
    assert left.is_dir()

    # The next run removes it as it starts; a run started meanwhile leaves that one's root alone.
    live = start(make_suite(tmp_path / "live", "sleep 612.5"), temp, "-o", str(tmp_path / "out2"))
    try:
        wait_for(lambda: not left.exists() and len(roots(temp)) == 1, "the killed run's root stayed")
        [live_root] = roots(temp)
        quick = make_suite(tmp_path / "quick", "true")
        done = subprocess.run(
            [sys.executable, "testsuite.py", "-j1", "--temp-dir", str(temp), "-o", str(tmp_path / "out3")],
            cwd=quick, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert roots(temp) == [live_root]
    finally:
        live.send_signal(signal.SIGINT)
        live.communicate(timeout=60)
    wait_for(lambda: nothing_left("612.5"), "the live run's commands survived it")
    assert roots(temp) == []  # each run removed its own at its end


def test_only_roots_of_gone_runs_that_would_have_removed_them(tmp_path: Path) -> None:
    me = working_roots._identity(os.getpid())

    def root(name: str, owner: object | None) -> Path:
        path = tmp_path / name
        (path / "a").mkdir(parents=True)
        if owner is not None:
            (path / working_roots.OWNER).write_text(owner if isinstance(owner, str) else json.dumps(owner))
        return path

    dead = {**me, "pid": 2**22 + 7, "started": 1, "cleanup": "all"}
    cases = {
        "e3suite-dead": (dead, False),
        "e3suite-reused": ({**me, "started": (me["started"] or 0) + 1, "cleanup": "all"}, False),  # our pid, not us
        "e3suite-rebooted": ({**dead, "boot": "another-boot", "pid": os.getpid()}, False),
        "e3suite-alive": ({**me, "cleanup": "all"}, True),
        "e3suite-other-namespace": ({**dead, "pidns": "pid:[1]"}, True),
        "e3suite-kept-on-purpose": ({**dead, "cleanup": "none"}, True),
        "e3suite-no-owner": (None, True),
        "e3suite-garbage": ("{not json", True),
        "not-e3suite-dead": (dead, True),
    }
    for name, (owner, _) in cases.items():
        root(name, owner)
    removed = working_roots.remove_abandoned(str(tmp_path))
    assert sorted(Path(p).name for p in removed) == sorted(n for n, (_, kept) in cases.items() if not kept)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n, (_, kept) in cases.items() if kept)


def test_a_root_to_be_kept_gets_no_owner_file(tmp_path: Path) -> None:
    """--cleanup-mode passed / none: the root holds the testcases' directories only, and stays."""
    for mode in ("passed", "none"):
        (tmp_path / mode).mkdir()
        working_roots.claim(tmp_path / mode, mode)
        assert list((tmp_path / mode).iterdir()) == []
    working_roots.claim(tmp_path, "all")
    assert json.loads((tmp_path / working_roots.OWNER).read_text())["pid"] == os.getpid()
