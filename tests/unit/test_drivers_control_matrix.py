"""control: and matrix: in test.yaml, seen from a run (verdicts, ids, selection)."""

from __future__ import annotations

from pathlib import Path

import pytest
from drivers_support import make_suite, run_suite

SUITE = '''
import sys
from e3suite import Testsuite, TestDriver, TestStatus
from e3suite.drivers import DiffDriver, ShellDriver


class Echo(TestDriver):
    """Logs ctx.matrix, passes."""

    def add_fragments(self):
        self.add_fragment("run", self.run, after=self.test_env.get("after", ()))

    def run(self, ctx):
        ctx.result.log += f"matrix={sorted(ctx.matrix.items())} previous={sorted(ctx.previous)}\\n"
        ctx.result.set_status(TestStatus.PASS)


class Suite(Testsuite):
    test_driver_map = {"shell": ShellDriver, "diff": DiffDriver, "echo": Echo}

    def condition_facts(self):
        return {"facts": {"has_gpu": False, "level": 2}}


if __name__ == "__main__":
    sys.exit(Suite().main())
'''

FILES: dict[str, str | bytes] = {
    "tests/ctl/skip/test.yaml": """\
        driver: shell
        cmd: [touch, ../../ran-skip]
        control:
          - [NONE, "facts.level == 1"]
          - [SKIP, "env.host.os.name == 'linux' and not facts.has_gpu", "needs a GPU"]
        """,
    "tests/ctl/xfail-fail/test.yaml": "driver: shell\ncmd: [false]\ncontrol: [[XFAIL, 'True', 'bug #7']]\n",
    "tests/ctl/xfail-pass/test.yaml": "driver: shell\ncmd: [true]\ncontrol: [[XFAIL, 'options.jobs >= 1']]\n",
    "tests/ctl/none/test.yaml": "driver: shell\ncmd: [true]\ncontrol: [[SKIP, 'facts.level > 5']]\n",
    "tests/ctl/bad/test.yaml": "driver: shell\ncmd: [true]\ncontrol: [[SKIP, \"__import__('os')\"]]\n",
    "tests/ctl/bad-kind/test.yaml": "driver: shell\ncmd: [true]\ncontrol: [[MAYBE, 'True']]\n",
    "tests/ctl/by-matrix/test.yaml": """\
        driver: shell
        cmd: [true]
        matrix: {opt: [O0, O2]}
        control: [[SKIP, "matrix.opt == 'O2'", "O2 is slow"]]
        """,
    "tests/mx/build/test.yaml": """\
        driver: diff
        cmd: [echo, '-${opt}', '${arch}', '$HOME-stays']
        matrix:
          opt: [O0, O2]
          arch: [x86, arm]
          exclude: [{opt: O2, arch: arm}]
        """,
    "tests/mx/build/test.out": "-O0 x86 $HOME-stays\n",  # unknown $names stay
    "tests/mx/echo/test.yaml": "driver: echo\nmatrix: {n: [1, 2]}\n",
    "tests/mx/user/test.yaml": "driver: echo\nafter: ['mx/echo[n=2]:run']\n",
    "tests/mx/bad/test.yaml": "driver: echo\nmatrix: {n: [1, 1]}\n",
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_suite(tmp_path_factory.mktemp("cm") / "suite", FILES, SUITE)


def test_control_verdicts(root: Path) -> None:
    run = run_suite(root, "-j2", "ctl")
    got = {k: (v["status"], v["message"]) for k, v in run.results.items()}
    assert got == {
        "ctl/skip": ("SKIP", "needs a GPU"),
        "ctl/xfail-fail": ("XFAIL", "expected failure: bug #7 (exit status 1 (expected 0))"),
        "ctl/xfail-pass": ("XPASS", "expected failure"),
        "ctl/none": ("PASS", ""),
        "ctl/bad": (
            "ERROR",
            f"{root}/tests/ctl/bad/test.yaml: control entry 1 (\"__import__('os')\"): "
            "not allowed in conditions: function calls",
        ),
        "ctl/bad-kind": (
            "ERROR",
            f"{root}/tests/ctl/bad-kind/test.yaml: key 'control[0][0]': expected one of NONE, SKIP, XFAIL, "
            "got 'MAYBE'",
        ),
        "ctl/by-matrix[opt=O0]": ("PASS", ""),
        "ctl/by-matrix[opt=O2]": ("SKIP", "O2 is slow"),
    }
    assert not (root / "ran-skip").exists(), "a skipped testcase must not run"


def test_matrix_ids_are_listed_in_order(root: Path) -> None:
    run = run_suite(root, "--list", "mx")
    assert run.stdout.splitlines() == [
        "mx/bad",
        "mx/build[opt=O0,arch=x86]",
        "mx/build[opt=O0,arch=arm]",
        "mx/build[opt=O2,arch=x86]",
        "mx/echo[n=1]",
        "mx/echo[n=2]",
        "mx/user",
    ]


def test_select_one_variant_and_substitution(root: Path) -> None:
    run = run_suite(root, "mx/build[opt=O0,arch=x86]")
    assert list(run.results) == ["mx/build[opt=O0,arch=x86]"]
    assert run.results["mx/build[opt=O0,arch=x86]"]["status"] == "PASS"
    # axis order is free on the command line
    run = run_suite(root, "--list", "mx/build[arch=arm,opt=O0]", "mx/echo")
    assert run.stdout.splitlines() == ["mx/build[opt=O0,arch=arm]", "mx/echo[n=1]", "mx/echo[n=2]"]


def test_a_regexp_is_searched_in_the_variant_ids_that_list_shows(root: Path) -> None:
    """``'arch=arm'`` selected nothing ("no testcase matches"), though --list shows ids it matches: it was
    searched in directory ids only."""
    run = run_suite(root, "--list", "arch=arm]$", "O2,arch")
    assert (run.code, run.stdout.splitlines()) == (0, ["mx/build[opt=O0,arch=arm]", "mx/build[opt=O2,arch=x86]"])
    run = run_suite(root, "--list", "echo\\[n=2", "mx/build[opt=O2,arch=x86]")
    assert run.stdout.splitlines() == ["mx/build[opt=O2,arch=x86]", "mx/echo[n=2]"]
    # A regexp that matches a directory selects it whole, as before; one that matches nothing is still an error.
    assert run_suite(root, "--list", "mx/ech").stdout.splitlines() == ["mx/echo[n=1]", "mx/echo[n=2]"]
    run = run_suite(root, "--list", "O2,arch", "opt=O9")
    assert (run.code, run.stderr.strip()) == (2, "e3suite: error: no testcase matches 'opt=O9'")


def test_unknown_or_excluded_variant_is_a_usage_error(root: Path) -> None:
    run = run_suite(root, "mx/build[opt=O2,arch=arm]")
    assert run.code == 2
    assert run.stderr.strip() == (
        "e3suite: error: no testcase matches 'mx/build[opt=O2,arch=arm]': "
        "mx/build has opt in O0, O2; arch in x86, arm (that combination is excluded)"
    )
    # What to write instead: a misspelt axis, a value no variant has, a directory without a matrix.
    errors = {arg: run_suite(root, "--list", arg).stderr.strip() for arg in ("mx/build[op=O2,arch=x86]",
                                                                             "mx/build[opt=O3,arch=x86]",
                                                                             "mx/user[n=1]")}
    assert errors == {
        "mx/build[op=O2,arch=x86]": "e3suite: error: no testcase matches 'mx/build[op=O2,arch=x86]': "
        "the axes of mx/build are opt, arch",
        "mx/build[opt=O3,arch=x86]": "e3suite: error: no testcase matches 'mx/build[opt=O3,arch=x86]': "
        "mx/build has opt in O0, O2; arch in x86, arm",
        "mx/user[n=1]": "e3suite: error: no testcase matches 'mx/user[n=1]': mx/user is no matrix testcase",
    }


def test_matrix_values_reach_the_driver_and_dependencies_name_variants(root: Path) -> None:
    run = run_suite(root, "mx/user", "mx/echo[n=1]")
    assert run.results["mx/echo[n=1]"]["log"] == "matrix=[('n', 1)] previous=[]\n"
    assert run.results["mx/user"]["log"] == "matrix=[] previous=['mx/echo[n=2]:run']\n"
    # the dependency was pulled in, with its own matrix values
    assert run.results["mx/echo[n=2]"]["log"] == "matrix=[('n', 2)] previous=[]\n"


def test_bad_matrix_is_an_error_of_the_directory(root: Path) -> None:
    run = run_suite(root, "mx/bad")
    assert run.results["mx/bad"]["status"] == "ERROR"
    assert run.results["mx/bad"]["message"].endswith("test.yaml: matrix axis 'n' lists a value twice")


def test_other_variants_fail_with_a_diff(root: Path) -> None:
    run = run_suite(root, "mx/build")
    got = {k: v["message"] for k, v in run.results.items()}
    assert got == {
        "mx/build[opt=O0,arch=x86]": "",
        "mx/build[opt=O0,arch=arm]": "output differs from test.out",
        "mx/build[opt=O2,arch=x86]": "output differs from test.out",
    }
    assert run.results["mx/build[opt=O2,arch=x86]"]["out"] == "-O2 x86 $HOME-stays\n"
