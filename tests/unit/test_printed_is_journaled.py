"""What the terminal showed, a kill does not lose: a result's line is printed once the journal holds it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SUITE = """
import os
import signal
import sys

from e3suite import TestDriver, Testsuite, TestStatus


class Driver(TestDriver):
    def add_fragments(self):
        self.add_fragment("run", self.run)

    def run(self, ctx):
        if self.test_env.get("kill"):
            os.kill(os.getpid(), signal.SIGKILL)  # the engine itself (--in-process), at once
        ctx.result.set_status(TestStatus.PASS, "done")


class Suite(Testsuite):
    test_driver_map = {"d": Driver}
    default_driver = "d"


if __name__ == "__main__":
    sys.exit(Suite().main())
"""


def test_a_result_the_terminal_showed_is_in_the_journal_of_a_killed_run(tmp_path: Path) -> None:
    """Before, the line was printed at the event and journaled at the end of the engine's turn: 7 runs in 10
    printed `PASS   a` and had no line for it in the journal (the reports sweep)."""
    (tmp_path / "testsuite.py").write_text(SUITE)
    for name, env in (("a", "{}"), ("b", "kill: true")):
        (tmp_path / "tests" / name).mkdir(parents=True)
        (tmp_path / "tests" / name / "test.yaml").write_text(env + "\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for attempt in range(5):
        out = tmp_path / f"out{attempt}"
        run = subprocess.run(
            [sys.executable, "testsuite.py", "-j1", "--in-process", "--progress", "none", "-o", str(out)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
        )
        assert run.returncode == -9, run.stdout + run.stderr
        journal = (out / "new" / "journal.jsonl").read_text()
        if "PASS   a" in run.stdout:
            assert '{"test":"a","status":"PASS"' in journal, (run.stdout, journal)
