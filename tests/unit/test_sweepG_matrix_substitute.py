"""``${axis}`` substitution leaves the rest of a shell script as written.

Before, in a matrix testcase (only there), ``$$`` in ``cmd`` or an ``env``
value became ``$`` (string.Template's escape): ``test "$$" -gt 1`` failed
with "Illegal number: $". And an axis whose name holds a dash, which the
matrix allows (``build-type``), was never substituted: ``${build-type}``
reached /bin/sh, which printed "type" (``${build-type}``: $build, else "type").
"""

from __future__ import annotations

from pathlib import Path

from drivers_support import make_suite, run_suite

from e3suite.matrix import substitute


def test_only_axis_references_are_replaced() -> None:
    values = {"v": "X", "build-type": "debug"}
    assert substitute("a $$ b ${v} $v $1 ${HOME:-x} $vv $v_2", values) == "a $$ b X X $1 ${HOME:-x} $vv $v_2"
    assert substitute("$${v} $$v", values) == "$${v} $$v"  # the shell's pid, then text
    assert substitute("make ${build-type} $build-type", values) == "make debug $build-type"
    assert substitute("cost: $", values) == "cost: $"


def test_a_matrix_shell_script_runs_as_it_would_outside_a_matrix(tmp_path: Path) -> None:
    root = make_suite(tmp_path, {
        "tests/m/test.yaml": (
            "driver: diff\n"
            "cmd: 'test \"$$\" -gt 1 && echo \"${build-type} $PRICE\"'\n"
            "env: {PRICE: '$$5 for ${build-type}'}\n"
            "matrix: {build-type: [debug]}\n"
        ),
        "tests/m/test.out": "debug $$5 for debug\n",
    })
    run = run_suite(root, "-j1")
    assert run.results["m[build-type=debug]"]["status"] == "PASS", run.stdout
