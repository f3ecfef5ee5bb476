"""The ``scenario`` driver: e3suite runs a sample testsuite, the outcome is diffed.

A scenario is a directory holding ``test.yaml``, a sample suite in
``suite/`` and a baseline ``test.out``. The driver (a DiffDriver) copies the
scenario into the working directory (with ``drivers/sample_suite.py`` as the
suite's ``testsuite.py`` when it has none), runs each entry of ``runs``
(``args`` for the sample's testsuite.py, or any ``command``), checks each
exit status, then runs the optional ``check.py``. The transcript of all
that, refined so that it does not depend on paths or timings, must equal
``test.out``; ``./testsuite.py --rewrite`` rewrites it.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any, ClassVar

from e3suite.drivers import DiffDriver
from e3suite.drivers.refiners import ReplacePath, ReplaceRegex, Substitute

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SUITE = Path(__file__).resolve().parent / "sample_suite.py"
DEFAULT_RUN_TIMEOUT = 120.0

_FRAME_LINE = re.compile(r'^(\s*(?:\| )?\s*File "[^"]+)", line \d+,', re.M)
_DURATION = re.compile(r"\b\d+(\.\d+)?s\b|\b\d+m\d+(\.\d+)?s\b")
_TEMP_DIR = re.compile(r"(/[^\s:'\"]*)?/e3suite-[A-Za-z0-9_]+")
_PID = re.compile(r"\bpid \d+\b")

_ARGV = {"type": "array", "items": {"type": ["string", "number", "boolean"]}}
RUN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "args": {**_ARGV, "description": "arguments of the sample suite's testsuite.py"},
        "command": {**_ARGV, "minItems": 1, "description": "any argv; `e3suite`/`python` mean this interpreter's"},
        "status": {"type": "integer", "description": "expected exit status (default 0)"},
        "keep": {"type": "string", "description": "keep only the output lines this regexp matches"},
        "sort": {"type": "boolean", "description": "sort the output lines"},
    },
    "additionalProperties": False,
}


class DropForeignFrames:
    """Keep only traceback frames of the sample suite: e3suite's own move too often."""

    def __init__(self, suite_dir: Path) -> None:
        self.prefix = f'  File "{suite_dir}'

    def __call__(self, text: str) -> str:
        kept: list[str] = []
        skipping = False
        for line in text.splitlines(keepends=True):
            if line.startswith('  File "'):
                skipping = not line.startswith(self.prefix)
            elif not line.startswith("    "):
                skipping = False
            if not skipping:
                kept.append(line)
        return "".join(kept)


class ScenarioDriver(DiffDriver):
    test_yaml_schema: ClassVar[dict[str, Any]] = {
        "properties": {"runs": {"type": "array", "items": RUN_SCHEMA}},
    }

    @property
    def suite_dir(self) -> Path:
        return self.working_dir / "suite"

    @property
    def output_refiners(self) -> list[Any]:
        # What changes from one run to the next: paths, timings, pids.
        return [
            *super().output_refiners,
            DropForeignFrames(self.suite_dir),
            ReplacePath(self.suite_dir, "<WD>"),
            Substitute(sys.executable, "<PYTHON>"),
            ReplaceRegex(_TEMP_DIR, "<TMP>"),
            ReplaceRegex(_DURATION, "N.NNs"),
            ReplaceRegex(_PID, "pid N"),  # a leaked process is named by its pid
            # Line numbers of traceback frames move with every edit of the file.
            ReplaceRegex(_FRAME_LINE, r'\1", line N,'),
        ]

    def set_up(self) -> None:
        # The scenario directory was copied into the working directory.
        if not (self.suite_dir / "testsuite.py").exists():
            shutil.copy(SAMPLE_SUITE, self.suite_dir / "testsuite.py")
        self.problems: list[str] = []
        # The sample runs' working directories go below this scenario's own:
        # the runs a scenario kills on purpose cannot clean theirs up.
        temp_dir = self.working_dir / "tmp"
        temp_dir.mkdir(exist_ok=True)
        self.env = {
            "TMPDIR": str(temp_dir),
            "PYTHONPATH": str(REPO_ROOT),
            # An empty NO_COLOR counts as unset: scenarios about colours see
            # the sample suite's own decision.
            "NO_COLOR": "",
        }

    def command_for(self, run: dict[str, Any]) -> list[str]:
        if "command" in run:
            argv = [str(a) for a in run["command"]]
            if argv and argv[0] == "e3suite":
                return [sys.executable, "-m", "e3suite", *argv[1:]]
            if argv and argv[0] == "python":
                return [sys.executable, *argv[1:]]
            return argv
        return [sys.executable, "testsuite.py", *[str(a) for a in run.get("args", [])]]

    def run(self) -> None:
        timeout = None if self.ctx.timeout is not None else DEFAULT_RUN_TIMEOUT
        for run in self.test_env.get("runs", [{}]):
            shown = " ".join(
                ["testsuite.py", *map(str, run.get("args", []))] if "command" not in run else map(str, run["command"])
            )
            result = self.shell(
                self.command_for(run), cwd=self.suite_dir, env=self.env, timeout=timeout,
                catch_error=False, analyze_output=False,
            )
            lines = result.output.splitlines(keepends=True)
            if "keep" in run:  # only the lines that matter (e.g. not argparse's usage)
                lines = [line for line in lines if re.search(run["keep"], line)]
            if run.get("sort"):
                lines.sort()
            self.output += f"$ {shown}\n{''.join(lines)}[exit {result.status}]\n"
            expected = int(run.get("status", 0))
            if result.status != expected:
                self.problems.append(f"{shown}: exit status {result.status}, expected {expected}")

        check = self.test_dir / "check.py"
        if check.exists():
            result = self.shell(
                [sys.executable, str(check)], cwd=self.suite_dir, env=self.env, timeout=timeout,
                catch_error=False, analyze_output=False,
            )
            self.output += f"$ check.py\n{result.output}[exit {result.status}]\n"
            if result.status != 0:
                self.problems.append(f"check.py: exit status {result.status}")

    def compute_failures(self) -> list[str]:
        return super().compute_failures() + self.problems
