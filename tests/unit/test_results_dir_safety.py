"""The results directory under stress: two runs on one ``-o``, a full disk, a directory removed mid-run.

Each test runs ``python testsuite.py`` as a user would and checks what the
user sees (one clear line, the exit code, no traceback) and that what was
written stays readable.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

from test_interrupt_run import finish, make_suite, mark, start, wait_running

REPO = Path(__file__).resolve().parents[2]

PYTHON_SUITE = '''
import shutil
import sys
from pathlib import Path

from e3suite import FragmentContext, TestDriver, Testsuite, TestStatus


class PyDriver(TestDriver):
    def add_fragments(self):
        self.add_fragment("run", self.run)

    def run(self, ctx: FragmentContext):
        if self.test_env.get("remove_results"):
            shutil.rmtree(Path(ctx.options.output_dir) / "new")
        ctx.result.set_status(TestStatus.PASS, "x" * 200)


class Suite(Testsuite):
    test_driver_map = {"py": PyDriver}
    default_driver = "py"


if __name__ == "__main__":
    sys.exit(Suite().main())
'''


def python_suite(root: Path, count: int, **first: object) -> Path:
    make_suite(root, {f"t{i:03}": dict(first) if i == 0 else {} for i in range(count)})
    (root / "testsuite.py").write_text(PYTHON_SUITE)
    return root


def run(root: Path, *args: str, file_size_limit: int | None = None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:  # runs in the child only, before exec
        if file_size_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "testsuite.py", "--no-color", "--progress", "none", *args],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, preexec_fn=limit,
    )


def test_a_second_run_on_the_same_results_directory_stops_naming_the_first(tmp_path: Path) -> None:
    text = mark()
    make_suite(tmp_path, {"slow": {"cmd": f"sleep {text}"}})
    first = start(tmp_path, "-j1", "--timeout", "60")
    try:
        wait_running(text, 1)
        second = run(tmp_path, "-j1")
        assert second.returncode == 2, second.stderr
        assert f"is in use by another run (pid {first.pid}, started " in second.stderr
        assert "wait for it to end, or give this run another -o directory" in second.stderr
        assert "Traceback" not in second.stderr
        # The first run's directory was left alone: its journal is its own.
        journal = (tmp_path / "out" / "new" / "journal.jsonl").read_text().splitlines()
        assert [json.loads(line)["event"] for line in journal][:2] == ["run_started", "test_discovered"]
        assert not (tmp_path / "out" / "old").exists()
    finally:
        first.terminate()
        finish(first, text)
    # Once it ended, the directory is free again.
    again = run(tmp_path, "-j1", "--timeout", "0.5")
    assert again.returncode == 1, again.stderr
    assert "in use" not in again.stderr


def test_a_full_disk_ends_the_run_with_one_line_and_a_readable_journal(tmp_path: Path) -> None:
    python_suite(tmp_path, 60)
    # The journal grows past this size after a few testcases: writes then
    # fail with EFBIG, as they would with ENOSPC on a full disk.
    done = run(tmp_path, "-j2", file_size_limit=12000)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("e3suite: error:")]
    assert len(errors) == 1, done.stderr
    assert "journal.jsonl: File too large; the run stopped there" in errors[0]
    assert done.stdout.rstrip().splitlines()[-1].startswith("e3suite: ")
    new = tmp_path / "out" / "new"
    assert not list(new.glob("*.tmp"))
    lines = (new / "journal.jsonl").read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # whole lines only
    report = subprocess.run(
        [sys.executable, "-m", "e3suite", "report", str(new), "--no-color"],
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60,
    )
    assert "Traceback" not in report.stderr
    # What ended before the failed write is there, the rest never ran.
    assert report.stdout.rstrip().splitlines()[-1].startswith("e3suite: ")
    assert " PASS, " in report.stdout


def test_results_removed_during_the_run_end_it_cleanly(tmp_path: Path) -> None:
    python_suite(tmp_path, 20, remove_results=True)
    done = run(tmp_path, "-j1")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("e3suite: error:")]
    assert len(errors) == 1 and "No such file or directory; the run stopped there" in errors[0], done.stderr
    # Scheduling stopped: not every testcase ran.
    assert done.stdout.count("PASS ") < 20


def test_a_callback_that_changes_directory_in_process_does_not_move_the_results(tmp_path: Path) -> None:
    suite = PYTHON_SUITE.replace(
        'ctx.result.set_status(TestStatus.PASS, "x" * 200)',
        'import os\n        os.chdir("/")\n        os.umask(0o077)\n        ctx.result.set_status(TestStatus.PASS)',
    )
    make_suite(tmp_path, {"a": {}, "b": {}})
    (tmp_path / "testsuite.py").write_text(suite)
    done = run(tmp_path, "--in-process", "-j1", "-o", "results")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "results" / "new" / "index.json").is_file()
    shutil.rmtree(tmp_path / "results")
