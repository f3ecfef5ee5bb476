"""The ``scenario`` driver: e3suite runs a sample testsuite, the outcome is diffed.

A scenario is a directory holding ``test.yaml``, a sample suite in
``suite/`` and a baseline ``test.out``. The driver copies the suite into the
working directory (with ``drivers/sample_suite.py`` as its ``testsuite.py``
when it has none), runs each entry of ``runs`` (``args`` for the sample's
testsuite.py, or any ``command``), checks each exit status, then runs the
optional ``check.py``. The transcript of all that, refined so that it does
not depend on paths or timings, must equal ``test.out``.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from e3suite import FragmentContext, TestDriver, TestStatus
from e3suite.model import FailureReason

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SUITE = Path(__file__).resolve().parent / "sample_suite.py"
DEFAULT_RUN_TIMEOUT = 120.0

_DURATION = re.compile(r"\b\d+(\.\d+)?s\b|\b\d+m\d+(\.\d+)?s\b")
_TEMP_DIR = re.compile(r"(/[^\s:'\"]*)?/e3suite-[A-Za-z0-9_]+")


def drop_foreign_frames(text: str, suite_dir: Path) -> str:
    """Keep only traceback frames of the sample suite: e3suite's own move too often."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        if line.startswith('  File "'):
            skipping = not line.startswith(f'  File "{suite_dir}')
        elif not line.startswith("    "):
            skipping = False
        if not skipping:
            kept.append(line)
    return "".join(kept)


def refine(text: str, suite_dir: Path) -> str:
    """Remove what changes from one run to the next: paths and timings."""
    text = drop_foreign_frames(text, suite_dir)
    text = text.replace(str(suite_dir), "<WD>")
    text = text.replace(sys.executable, "<PYTHON>")
    text = _TEMP_DIR.sub("<TMP>", text)
    return _DURATION.sub("N.NNs", text)


class ScenarioDriver(TestDriver):
    def add_fragments(self) -> None:
        self.add_fragment("run", self.run)

    def command_for(self, run: dict[str, Any]) -> list[str]:
        if "command" in run:
            argv = [str(a) for a in run["command"]]
            if argv and argv[0] == "e3suite":
                return [sys.executable, "-m", "e3suite", *argv[1:]]
            if argv and argv[0] == "python":
                return [sys.executable, *argv[1:]]
            return argv
        return [sys.executable, "testsuite.py", *[str(a) for a in run.get("args", [])]]

    def run(self, ctx: FragmentContext) -> None:
        suite_dir = ctx.working_dir / "suite"
        shutil.copytree(ctx.test_dir / "suite", suite_dir, symlinks=True)
        if not (suite_dir / "testsuite.py").exists():
            shutil.copy(SAMPLE_SUITE, suite_dir / "testsuite.py")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        env.pop("NO_COLOR", None)
        timeout = float(ctx.test_env.get("timeout", DEFAULT_RUN_TIMEOUT))

        transcript: list[str] = []
        problems: list[str] = []
        for run in ctx.test_env.get("runs", [{}]):
            argv = self.command_for(run)
            shown = " ".join(["testsuite.py", *map(str, run.get("args", []))] if "command" not in run
                             else map(str, run["command"]))
            try:
                proc = subprocess.run(argv, cwd=suite_dir, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      timeout=timeout, start_new_session=True)
                output, status = proc.stdout.decode(errors="replace"), proc.returncode
            except subprocess.TimeoutExpired as exc:
                output = (exc.output or b"").decode(errors="replace")
                status = None
                problems.append(f"{shown}: timed out after {timeout} s")
            lines = output.splitlines(keepends=True)
            if "keep" in run:  # only the lines that matter (e.g. not argparse's usage)
                lines = [line for line in lines if re.search(run["keep"], line)]
            if run.get("sort"):
                lines.sort()
            transcript.append(f"$ {shown}\n{''.join(lines)}[exit {status}]\n")
            expected = int(run.get("status", 0))
            if status is not None and status != expected:
                problems.append(f"{shown}: exit status {status}, expected {expected}")

        check = ctx.test_dir / "check.py"
        if check.exists():
            proc = subprocess.run([sys.executable, str(check)], cwd=suite_dir, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
            transcript.append(f"$ check.py\n{proc.stdout.decode(errors='replace')}[exit {proc.returncode}]\n")
            if proc.returncode != 0:
                problems.append(f"check.py: exit status {proc.returncode}")

        actual = refine("".join(transcript), suite_dir)
        ctx.result.out = actual
        self.compare(ctx, actual, problems)

    def compare(self, ctx: FragmentContext, actual: str, problems: list[str]) -> None:
        baseline = ctx.test_dir / "test.out"
        expected = baseline.read_text() if baseline.exists() else None
        ctx.result.expected = expected
        if expected != actual:
            if getattr(ctx.options, "rewrite", False):
                baseline.write_text(actual)
                ctx.result.log += f"baseline updated: {baseline}\n"
            else:
                diff = "".join(difflib.unified_diff(
                    (expected or "").splitlines(keepends=True), actual.splitlines(keepends=True),
                    "expected", "actual"))
                ctx.result.diff = diff
                ctx.result.failure_reasons.add(FailureReason.DIFF)
                problems.insert(0, "missing baseline test.out" if expected is None else "output differs")
        if problems:
            ctx.result.log += actual
            ctx.result.set_status(TestStatus.FAIL, "; ".join(problems))
        else:
            ctx.result.set_status(TestStatus.PASS)
