"""Worker facts and requirement matching (executors/dask_facts.py): pure functions."""

from __future__ import annotations

import sys
from pathlib import Path

from e3suite.executors.dask_facts import (
    driver_files,
    hash_files,
    incompatibility,
    offers,
    probe_facts,
    unmet,
    version_key,
)
from e3suite.version import __version__

FACTS = {"os": "linux", "cpus": 2, "gnat": "14.2", "gpu": 0, "fast": True}


def test_numbers_are_minimums() -> None:
    assert unmet({"cpus": 2}, FACTS) == []
    assert unmet({"cpus": 4}, FACTS) == ["cpus=4"]
    assert unmet({"gpu": 1}, FACTS) == ["gpu=1"]
    assert unmet({"tpu": 1}, FACTS) == ["tpu=1"]  # a fact a worker lacks counts as 0
    assert unmet({"tpu": 0}, FACTS) == []


def test_strings_are_equal_or_a_version_range() -> None:
    assert unmet({"os": "linux"}, FACTS) == []
    assert unmet({"os": "windows"}, FACTS) == ["os=windows"]
    assert unmet({"gnat": ">=14"}, FACTS) == []
    assert unmet({"gnat": ">=14.3"}, FACTS) == ["gnat=>=14.3"]
    assert unmet({"gnat": ">=13,<15"}, FACTS) == []
    assert unmet({"gnat": ">=13, <14"}, FACTS) == ["gnat=>=13, <14"]
    assert unmet({"compiler": ">=1"}, FACTS) == ["compiler=>=1"]
    assert unmet({"fast": True}, FACTS) == []
    assert unmet({"fast": False}, FACTS) == ["fast=False"]


def test_version_key_reads_the_numbers() -> None:
    assert version_key("gcc 13.2.1") == (13, 2, 1)
    assert version_key("none") == (0,)


def test_offers_lists_what_workers_have() -> None:
    other = dict(FACTS, gpu=2)
    assert offers({"gpu": 4}, [FACTS, other]) == "gpu=0|2"
    assert offers({"tpu": 1, "os": "x"}, [FACTS]) == "tpu=0; os=linux"


def test_incompatible_workers_are_named_with_the_reason() -> None:
    facts = {"e3suite": __version__, "driver_hash": "abc"}
    assert incompatibility(facts, __version__, "abc") is None
    assert "driver code differs" in str(incompatibility(facts, __version__, "def"))
    assert "runs e3suite 0.0" in str(incompatibility(dict(facts, e3suite="0.0"), __version__, "abc"))


def test_hash_follows_contents_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "d.py").write_text("x = 1\n")
    first = hash_files(tmp_path, ["d.py"])
    assert first == hash_files(tmp_path, ["d.py"])
    (tmp_path / "d.py").write_text("x = 2\n")
    assert hash_files(tmp_path, ["d.py"]) != first
    assert hash_files(tmp_path, ["gone.py"]) != hash_files(tmp_path, [])


def test_driver_files_are_the_suites_own(tmp_path: Path) -> None:
    here = Path(__file__).resolve().parent

    class Suite:
        test_driver_map: dict[str, type] = {}

    Suite.__module__ = __name__
    assert driver_files(Suite, here) == [Path(__file__).name]
    assert driver_files(Suite, tmp_path) == []  # outside the root: not the testsuite's code


def test_probe_facts_describes_this_machine(tmp_path: Path) -> None:
    facts = probe_facts(tmp_path, [], {"gnat": "14", "os": "not-this"})
    assert facts["os"] == sys.platform.rstrip("0123456789") or facts["os"] == "linux"
    assert facts["cpus"] >= 1 and facts["memory_mb"] > 0
    assert facts["e3suite"] == __version__
    assert facts["gnat"] == "14"
    assert facts["os"] != "not-this"  # probed facts win over the testsuite's
