"""Unit tests of e3suite.discovery: the walk, selection and test.yaml errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from e3suite.discovery import (
    SelectionError,
    find_testcase_dirs,
    load_testcase,
    read_test_yaml,
    read_text,
    select_ids,
)
from e3suite.driver import TestDriver


class Dummy(TestDriver):
    def add_fragments(self) -> None:
        pass


def make(root: Path, *ids: str) -> None:
    for test_id in ids:
        (root / test_id).mkdir(parents=True, exist_ok=True)
        (root / test_id / "test.yaml").write_text("driver: dummy\n")


def test_walk_sorted_not_into_testcases_skipping_vcs(tmp_path: Path) -> None:
    make(tmp_path, "b", "a/x", "a/x/inner", ".git/y", "CVS/z", "a/y")
    ids = [i for i, _ in find_testcase_dirs(tmp_path)]
    assert ids == ["a/x", "a/y", "b"]


def test_walk_survives_symlink_loops(tmp_path: Path) -> None:
    make(tmp_path, "a/t")
    os.symlink("..", tmp_path / "a" / "up")
    os.symlink(tmp_path / "missing", tmp_path / "dangling")
    assert [i for i, _ in find_testcase_dirs(tmp_path)] == ["a/t"]


def test_selection_by_id_directory_and_regexp(tmp_path: Path) -> None:
    ids = ["arith/add", "arith/mul", "strings/len", "tests-like/x"]
    make(tmp_path, *ids)
    assert select_ids(ids, ["arith/mul"], tmp_path, tmp_path) == ["arith/mul"]
    assert select_ids(ids, ["arith"], tmp_path, Path("/")) == ["arith/add", "arith/mul"]
    assert select_ids(ids, [str(tmp_path / "strings")], tmp_path, Path("/")) == ["strings/len"]
    assert select_ids(ids, ["l$"], tmp_path, Path("/")) == ["arith/mul"]
    assert select_ids(ids, [], tmp_path, Path("/")) == ids


def test_regexp_is_searched_in_ids_never_in_paths(tmp_path: Path) -> None:
    root = tmp_path / "somewhere" / "tests"
    make(root, "a")
    with pytest.raises(SelectionError, match="no testcase matches 'somewhere'"):
        select_ids(["a"], ["somewhere"], root, Path("/"))


def test_bad_regexp_is_a_selection_error(tmp_path: Path) -> None:
    with pytest.raises(SelectionError, match="valid regexp"):
        select_ids(["a"], ["a[b"], tmp_path, tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [1,\n", "test.yaml:2:1: invalid YAML"),
        ("- 1\n", "test.yaml must be a mapping, not a list"),
        ("!!python/object:os.system ls\n", "invalid YAML"),
        # PyYAML alone keeps the last value without a word
        ("cmd: [a]\nstatus: 1\ncmd: [b]\n", "test.yaml:3:1: duplicate key 'cmd' on lines 1 and 3"),
        ("env:\n  A: 1\n  A: 2\n", "test.yaml:3:3: duplicate key 'A' on lines 2 and 3"),
        ("env: {A: 1, A: 2}\n", "test.yaml:1:13: duplicate key 'A' twice on line 1"),
        ("1: a\n0x1: b\n", "test.yaml:2:1: duplicate key 1 on lines 1 and 2"),
    ],
)
def test_yaml_problems_are_one_line_reasons(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "test.yaml").write_text(text)
    data, error = read_test_yaml(tmp_path)
    assert data is None and error is not None and message in error and "\n" not in error


def test_merge_keys_may_override_and_distinct_keys_stay_distinct(tmp_path: Path) -> None:
    (tmp_path / "test.yaml").write_text("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  x: 3\n1: one\n'1': text\n")
    data, error = read_test_yaml(tmp_path)
    assert error is None and data == {"base": {"x": 1, "y": 2}, "other": {"x": 3, "y": 2}, 1: "one", "1": "text"}


def test_driver_resolution(tmp_path: Path) -> None:
    (tmp_path / "test.yaml").write_text("driver: other\n")
    case = load_testcase("t", tmp_path, {"dummy": Dummy}, None)
    assert case.error is not None and "unknown driver 'other' (known: dummy)" in case.error
    (tmp_path / "test.yaml").write_text("description: x\n")
    assert "no 'driver' key" in (load_testcase("t", tmp_path, {"dummy": Dummy}, None).error or "")
    assert load_testcase("t", tmp_path, {"dummy": Dummy}, "dummy").driver_class is Dummy


def test_a_stock_driver_not_mapped_says_how_to_map_it(tmp_path: Path) -> None:
    (tmp_path / "test.yaml").write_text("driver: shell\ncmd: [true]\n")
    error = load_testcase("t", tmp_path, {}, None).error or ""
    assert error.endswith(
        "unknown driver 'shell' (known: none); the stock one is mapped with "
        "test_driver_map = {'shell': e3suite.drivers.ShellDriver}"
    )


def test_the_duplicate_key_check_keeps_the_c_parser() -> None:
    import yaml

    from e3suite import yaml_reader

    if hasattr(yaml, "CSafeLoader"):
        assert issubclass(yaml_reader.strict_loader(), yaml.CSafeLoader)


def test_a_likely_typo_of_a_common_key_is_a_warning_of_every_variant(tmp_path: Path) -> None:
    (tmp_path / "test.yaml").write_text("driver: dummy\ntimout: 5\n")
    case = load_testcase("t", tmp_path, {"dummy": Dummy}, None)
    assert case.error is None
    assert case.warnings == [
        f"{tmp_path / 'test.yaml'}: key 'timout' is not a key e3suite or the driver declares: did you mean 'timeout'?"
    ]
    (tmp_path / "test.yaml").write_text("driver: dummy\nmatrix: {a: [x, y]}\ncontrl: []\n")
    variant = load_testcase("t[a=y]", tmp_path, {"dummy": Dummy}, None)
    assert variant.error is None and len(variant.warnings) == 1 and "did you mean 'control'?" in variant.warnings[0]


def test_a_directory_name_that_is_not_utf8_gives_a_writable_id(tmp_path: Path) -> None:
    """Its undecodable bytes are spelled ``\\xNN`` in the id; the directory keeps its name."""
    raw = os.fsdecode(b"caf\xe9")
    make(tmp_path, f"a/{raw}")
    [(test_id, test_dir)] = find_testcase_dirs(tmp_path)
    assert test_id == "a/caf\\xe9"
    test_id.encode("utf-8")  # no lone surrogate left
    assert test_dir == tmp_path / "a" / raw and (test_dir / "test.yaml").is_file()
    # The name as a shell passes it (undecodable bytes), the id, a directory, a regexp.
    for arg in (f"a/{raw}", "a/caf\\xe9", str(tmp_path / "a" / raw), "caf\\\\x"):
        assert select_ids([test_id], [arg], tmp_path, tmp_path) == [test_id], arg


def test_identical_test_yaml_files_each_get_their_own_error_and_warnings(tmp_path: Path) -> None:
    # Validation is done once per text and driver (discovery's largest cost):
    # every directory still reports with its own path, and another driver,
    # or a schema changed since, is checked anew.
    class Strict(TestDriver):
        test_yaml_schema = {"type": "object", "properties": {"cmd": {"type": "string"}}, "additionalProperties": False}

        def add_fragments(self) -> None:
            pass

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "test.yaml").write_text("cmd: 3\ntimout: 1\n")
    drivers = {"dummy": Dummy, "strict": Strict}
    for name in ("a", "b"):
        case = load_testcase(name, tmp_path / name, drivers, "strict")
        assert case.error is not None and case.error.startswith(f"{tmp_path / name / 'test.yaml'}: ")
    for name in ("a", "b"):
        case = load_testcase(name, tmp_path / name, drivers, "dummy")
        assert case.error is None
        assert [w.split(": ", 1)[0] for w in case.warnings] == [str(tmp_path / name / "test.yaml")]
    Strict.test_yaml_schema = {"type": "object"}
    assert load_testcase("a", tmp_path / "a", drivers, "strict").error is None


def test_a_test_yaml_that_cannot_be_read_is_a_testcase_in_error(tmp_path: Path) -> None:
    """A dangling test.yaml symlink, or a directory named test.yaml: not a silent non-testcase."""
    make(tmp_path, "fine")
    (tmp_path / "dangling").mkdir()
    os.symlink(tmp_path / "nowhere.yaml", tmp_path / "dangling" / "test.yaml")
    (tmp_path / "dir" / "test.yaml").mkdir(parents=True)
    found = dict(find_testcase_dirs(tmp_path))
    assert sorted(found) == ["dangling", "dir", "fine"]
    for name in ("dangling", "dir"):
        data, error = read_test_yaml(found[name])
        assert data is None and error is not None and error.startswith(f"cannot read {tmp_path / name / 'test.yaml'}: ")


def test_test_yaml_reads_as_the_text_layer_reads_it(tmp_path: Path) -> None:
    """discovery.read_text (os-level, for speed) gives what Path.read_text gives: newlines, errors, long files."""
    texts = {
        "crlf": b"driver: shell\r\ncmd: [true]\r\n",
        "lone-cr": b"driver: shell\rcmd: [true]\r",
        "long": b"description: " + b"x" * 200_000 + b"\ndriver: shell\n",
        "utf8": "description: caf\u00e9\n".encode(),
    }
    for name, data in texts.items():
        (tmp_path / name).write_bytes(data)
        assert read_text(str(tmp_path / name)) == (tmp_path / name).read_text(encoding="utf-8"), name
    (tmp_path / "latin1").write_bytes(b"description: caf\xe9\n")
    with pytest.raises(UnicodeDecodeError):
        read_text(str(tmp_path / "latin1"))
    (tmp_path / "dir").mkdir()
    for missing in ("dir", "nowhere"):
        with pytest.raises(OSError) as raised:
            read_text(str(tmp_path / missing))
        assert str(tmp_path / missing) in str(raised.value)  # the path is named, as open() names it


def test_a_testcase_is_selected_by_the_path_of_its_test_yaml(tmp_path: Path) -> None:
    """As lit takes a test file's path: `./testsuite.py tests/sum/test.yaml` (shell completion gives it)."""
    ids = ["arith/add", "arith/mul"]
    make(tmp_path, *ids)
    assert select_ids(ids, [str(tmp_path / "arith" / "mul" / "test.yaml")], tmp_path, Path("/")) == ["arith/mul"]
    assert select_ids(ids, ["arith/add/test.yaml"], tmp_path, tmp_path) == ["arith/add"]
