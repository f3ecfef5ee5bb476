"""ShellDriver's items as written come from discovery's one reading of test.yaml."""

from __future__ import annotations

from pathlib import Path

from e3suite import discovery, yaml_reader
from e3suite.drivers import ShellDriver


def test_the_reader_gives_typed_items_as_written_beside_their_values() -> None:
    value, written = yaml_reader.load_with_written("driver: shell\ncmd: [echo, true, 1.50, 0x10]\nenv: {A: on}\n")
    assert value["cmd"] == ["echo", True, 1.5, 16]
    assert written == {"cmd": ["echo", "true", "1.50", "0x10"], "env": {"A": "on"}}
    # Nothing typed: nothing kept; outside the plain subset: PyYAML's value, nothing kept.
    assert yaml_reader.load_with_written("cmd: [echo, hi]\n")[1] == {}
    value, written = yaml_reader.load_with_written("cmd: !!str 1\n")
    assert value == {"cmd": "1"} and written == {}


def test_the_driver_uses_them_without_reading_test_yaml_again(tmp_path: Path) -> None:
    (tmp_path / "test.yaml").write_text("driver: shell\ncmd: [echo, yes, 1.50]\n")
    (case,) = discovery.load_testcases("t", tmp_path, {"shell": ShellDriver}, None)
    assert case.written == {"cmd": ["echo", "yes", "1.50"]}
    driver = ShellDriver("t", case.test_env, tmp_path, tmp_path / "w", None)  # type: ignore[arg-type]
    driver.test_yaml_written = case.written
    (tmp_path / "test.yaml").unlink()  # read again, it would be gone
    assert driver.yaml_command() == ["echo", "yes", "1.50"]
