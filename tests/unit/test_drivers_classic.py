"""ClassicDriver and DiffDriver as base classes of Python drivers."""

from __future__ import annotations

from pathlib import Path

import pytest
from drivers_support import REPO, Run, make_suite, run_suite

import e3suite.command_output

SUITE = '''
import sys
from pathlib import Path
from e3suite import Testsuite
from e3suite.drivers import ClassicDriver, DiffDriver, TestAbortWithError, TestAbortWithFailure, TestSkip
from e3suite.drivers.refiners import ReplaceRegex, Substitute


class Steps(ClassicDriver):
    """Does what test.yaml's `steps` list says, and records tear_down in a file."""

    def set_up(self):
        if self.test_env.get("skip"):
            raise TestSkip("not on this host")

    def run(self):
        for step in self.test_env.get("steps", []):
            if step == "fail":
                raise TestAbortWithFailure("it failed")
            if step == "error":
                raise TestAbortWithError("cannot set up")
            if step == "crash":
                raise ValueError("driver bug")
            if step == "false":
                self.shell(["false"])
            self.shell(["echo", step])

    def compute_failures(self):
        return ["no 'ok' in the output"] if "ok" not in self.output else []

    def tear_down(self):
        marker = Path(self.test_env["marker"])
        marker.write_text(f"tear_down ran; copied={(self.working_dir / 'input.txt').exists()}\\n")


class Versions(DiffDriver):
    """A subclass with its own run(): `cmd` is not required, refiners extended."""

    def run(self):
        self.shell(["echo", "tool 1.2.3 at", str(self.working_dir)])
        self.shell("echo second call")

    @property
    def output_refiners(self):
        return super().output_refiners + [
            Substitute(str(self.working_dir), "<WD>"),
            ReplaceRegex(r"\\d+\\.\\d+\\.\\d+", "X.Y.Z"),
        ]


class Suite(Testsuite):
    test_driver_map = {"steps": Steps, "versions": Versions}


if __name__ == "__main__":
    sys.exit(Suite().main())
'''


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Run]:
    root = tmp_path_factory.mktemp("classic") / "suite"
    markers = root / "markers"
    files: dict[str, str | bytes] = {}
    cases = {
        "ok": "[ok]",
        "not-ok": "[hello]",
        "fail": "[ok, fail]",
        "error": "[error]",
        "crash": "[crash]",
        "false": "['false']",
    }
    for name, steps in cases.items():
        files[f"tests/{name}/test.yaml"] = f"driver: steps\nsteps: {steps}\nmarker: {markers / name}\n"
        # The copy is seen by its input (a directory with test.yaml alone is not copied).
        files[f"tests/{name}/input.txt"] = "input\n"
    files["tests/skip/test.yaml"] = f"driver: steps\nskip: true\nmarker: {markers / 'skip'}\n"
    files["tests/skip/input.txt"] = "input\n"
    files["tests/versions/test.yaml"] = "driver: versions\n"
    files["tests/versions/test.out"] = "tool X.Y.Z at <WD>\nsecond call\n"
    files["tests/versions-typo/test.yaml"] = "driver: versions\nbaseline_regex: true\n"
    make_suite(root, files, SUITE)
    markers.mkdir()
    return root, run_suite(root, "-j2")


@pytest.mark.parametrize(
    ("test_id", "status", "message"),
    [
        ("ok", "PASS", ""),
        ("not-ok", "FAIL", "no 'ok' in the output"),
        ("fail", "FAIL", "it failed"),
        ("error", "ERROR", "cannot set up"),
        ("skip", "SKIP", "not on this host"),
        ("false", "FAIL", "false: exit status 1"),
        ("versions", "PASS", ""),
    ],
)
def test_verdicts(suite: tuple[Path, Run], test_id: str, status: str, message: str) -> None:
    _, run = suite
    data = run.results[test_id]
    assert (data["status"], data["message"]) == (status, message)


@pytest.mark.parametrize("test_id", ["ok", "not-ok", "fail", "error", "crash", "false", "skip"])
def test_tear_down_always_runs(suite: tuple[Path, Run], test_id: str) -> None:
    root, _ = suite
    assert (root / "markers" / test_id).read_text() == "tear_down ran; copied=True\n"


def test_driver_exception_is_an_error_with_traceback(suite: tuple[Path, Run]) -> None:
    _, run = suite
    data = run.results["crash"]
    assert data["status"] == "ERROR"
    assert data["message"] == "crash:run raised ValueError: driver bug"
    assert 'raise ValueError("driver bug")' in data["log"]


def test_outputs_of_shell_calls_accumulate(suite: tuple[Path, Run]) -> None:
    _, run = suite
    data = run.results["versions"]
    assert data["out"] == "tool X.Y.Z at <WD>\nsecond call\n"
    assert len(data["processes"]) == 2


def test_subclass_with_run_checks_baseline_keys_only(suite: tuple[Path, Run]) -> None:
    _, run = suite
    data = run.results["versions-typo"]
    # the subclass's schema is open (it reads its own keys), but the known
    # keys are still typed: a typo of a known key stays unnoticed by design,
    # while a wrong type is caught.
    assert data["status"] == "FAIL"
    assert data["message"] == "missing baseline test.out"


def test_an_output_too_large_to_compare_is_an_error_not_a_truncated_comparison(tmp_path: Path) -> None:
    suite = '''
import sys
import e3suite.command_output
from e3suite import Testsuite
from e3suite.drivers import DiffDriver

e3suite.command_output.FULL_OUTPUT_LIMIT = 2_000_000  # 256 MiB for real: too slow for a unit test

class Suite(Testsuite):
    test_driver_map = {"diff": DiffDriver}

if __name__ == "__main__":
    sys.exit(Suite().main())
'''
    root = make_suite(tmp_path, {"tests/huge/test.yaml": "driver: diff\ncmd: 'head -c 3000000 /dev/zero'\n"}, suite)
    run = run_suite(root, "-j1", "--rewrite")
    assert run.code == 1
    assert (run.results["huge"]["status"], run.results["huge"]["message"]) == (
        "ERROR", "head -c 3000000 /dev/zero printed 3000000 bytes, more than the 2000000 that can be compared"
    )
    assert not (root / "tests" / "huge" / "test.out").exists()
    # What drivers.md says of it (it said "the whole output, however long").
    limit = e3suite.command_output.FULL_OUTPUT_LIMIT
    drivers_md = " ".join((REPO / "docs" / "drivers.md").read_text().split())
    assert f"up to {limit // 2**20} MiB: a longer one makes the testcase ERROR" in drivers_md
    assert f"more than the {limit} that can be compared" in drivers_md


DECLARING = '''
import sys
from e3suite import Testsuite
from e3suite.drivers import DiffDriver

class Script(DiffDriver):
    """Its own run() and its own key, as the tutorial's ScriptDriver."""
    test_yaml_schema = {"properties": {"word": {"type": "string"}}}

    def run(self):
        self.shell(["echo", self.test_env["word"]])

class Extra(DiffDriver):
    """No run() of its own: cmd and the other shell keys still apply."""
    test_yaml_schema = {"properties": {"note": {"type": "string"}}}

class Suite(Testsuite):
    test_driver_map = {"script": Script, "extra": Extra}

if __name__ == "__main__":
    sys.exit(Suite().main())
'''


def test_a_diff_subclass_that_declares_its_keys_keeps_diffdriver_s(tmp_path: Path) -> None:
    """Declaring test_yaml_schema refused `refiners:` and `baseline:` (and `cmd:` for a subclass without run())."""
    files: dict[str, str | bytes] = {
        "tests/s/test.yaml": (
            "driver: script\nword: hello\nbaseline: exp.txt\nrefiners: [{substring: hello, replace: HI}]\n"
        ),
        "tests/s/exp.txt": "HI\n",
        "tests/e/test.yaml": "driver: extra\nnote: why\ncmd: [echo, x]\nstatus: 0\n",
        "tests/e/test.out": "x\n",
        "tests/no-cmd/test.yaml": "driver: extra\nnote: why\n",
        "tests/typo/test.yaml": "driver: script\nword: a\nrefiner: []\n",
    }
    run = run_suite(make_suite(tmp_path, files, DECLARING), "-j1")
    verdicts = {test_id: (r["status"], r["message"]) for test_id, r in run.results.items()}
    assert verdicts["s"] == ("PASS", ""), run.stdout
    assert verdicts["e"] == ("PASS", ""), run.stdout
    assert verdicts["no-cmd"][0] == "ERROR" and verdicts["no-cmd"][1].endswith("missing required key 'cmd'")
    assert verdicts["typo"][0] == "ERROR"
    assert verdicts["typo"][1].endswith("unknown key 'refiner': did you mean 'refiners'?")
