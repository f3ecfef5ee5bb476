"""Matrix expansion: order, exclusion, ids, look-up, substitution."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from e3suite.matrix import MatrixError, expand, find, split_variant_id, substitute, variant_id

SPEC = {"opt": ["O0", "O2"], "arch": ["x86", "arm"], "exclude": [{"opt": "O2", "arch": "arm"}]}


def test_expansion_order_and_exclusion() -> None:
    ids = [variant_id("c/t", combo) for combo in expand(SPEC)]
    assert ids == ["c/t[opt=O0,arch=x86]", "c/t[opt=O0,arch=arm]", "c/t[opt=O2,arch=x86]"]


def test_partial_exclusion_and_yaml_spelling() -> None:
    spec = {"debug": [True, False], "n": [1, 2], "exclude": [{"n": 2}]}
    assert [variant_id("t", c) for c in expand(spec)] == ["t[debug=true,n=1]", "t[debug=false,n=1]"]


def test_expansion_is_lazy() -> None:
    spec = {f"a{i}": list(range(10)) for i in range(8)}  # 10**8 combinations
    first = list(itertools.islice(expand(spec), 3))
    assert first[2] == {**dict.fromkeys(spec, 0), "a7": 2}


def test_split_and_find() -> None:
    assert split_variant_id("c/t[opt=O0,arch=x86]") == ("c/t", {"opt": "O0", "arch": "x86"})
    assert split_variant_id("c/t") is None
    assert split_variant_id("c/t[abc]") is None
    assert find(SPEC, {"arch": "x86", "opt": "O2"}) == {"opt": "O2", "arch": "x86"}
    assert find(SPEC, {"arch": "arm", "opt": "O2"}) is None  # excluded
    assert find(SPEC, {"opt": "O1", "arch": "x86"}) is None
    assert find(SPEC, {"opt": "O0"}) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "non-empty mapping"),
        ({"opt": []}, "axis 'opt' must be a non-empty list"),
        ({"opt": ["a,b"]}, "must not contain"),
        ({"opt": ["a", "a"]}, "lists a value twice"),
        ({"opt": ["a"], "exclude": [{"arch": "x"}]}, "names unknown axis 'arch'"),
        ({"exclude": []}, "matrix has no axis"),
    ],
)
def test_bad_specs(spec: dict[str, object], message: str) -> None:
    with pytest.raises(MatrixError, match=None) as info:
        list(expand(spec))
    assert message in str(info.value)


def test_substitute() -> None:
    assert substitute("cc -${opt} $arch.c $HOME", {"opt": "O2", "arch": "x86"}) == "cc -O2 x86.c $HOME"
    assert substitute("$x", {}) == "$x"


def test_variants_share_one_parsed_test_yaml(tmp_path: Path) -> None:
    # 10,000 combinations: one parse, one shared mapping, small per-variant objects.
    from e3suite import discovery
    from e3suite.drivers import ShellDriver

    values = ", ".join(str(i) for i in range(100))
    (tmp_path / "test.yaml").write_text(f"driver: shell\ncmd: [true]\nmatrix: {{a: [{values}], b: [{values}]}}\n")
    cases = discovery.load_testcases("m", tmp_path, {"shell": ShellDriver}, None)
    assert len(cases) == 10_000
    assert cases[0].test_id == "m[a=0,b=0]" and cases[-1].test_id == "m[a=99,b=99]"
    assert all(case.test_env is cases[0].test_env for case in cases)
    assert cases[123].matrix == {"a": 1, "b": 23}
    one = discovery.load_testcase("m[a=7,b=5]", tmp_path, {"shell": ShellDriver}, None)
    assert (one.test_id, one.matrix, one.error) == ("m[a=7,b=5]", {"a": 7, "b": 5}, None)
    # a dependency spells the id as test.yaml orders the axes
    swapped = discovery.load_testcase("m[b=5,a=7]", tmp_path, {"shell": ShellDriver}, None)
    assert swapped.error == f"no matrix variant 'm[b=5,a=7]' in {tmp_path / 'test.yaml'} (its id is 'm[a=7,b=5]')"
    missing = discovery.load_testcase("m[a=7,b=500]", tmp_path, {"shell": ShellDriver}, None)
    assert missing.error == f"no matrix variant 'm[a=7,b=500]' in {tmp_path / 'test.yaml'}"
    plain = discovery.load_testcase("m", tmp_path, {"shell": ShellDriver}, None)
    assert plain.error == "m is a matrix testcase: name one variant, e.g. m[a=0,b=0]"
