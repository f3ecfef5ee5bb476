"""The split of ``--shard K/N`` (e3suite/shard.py), alone: groups, LPT balance, hash, determinism."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import pytest

from e3suite import shard
from e3suite.discovery import Testcase
from e3suite.driver import TestDriver
from e3suite.plan import build_plan


def imbalance(expected: list[float]) -> float:
    """How far the heaviest part is above the ideal one, relatively (0.05: 5% over)."""
    ideal = sum(expected) / len(expected)
    return max(expected) / ideal - 1


def test_parse_shard() -> None:
    assert shard.parse_shard("2/4") == shard.ShardSpec(2, 4)
    assert str(shard.parse_shard("1/1")) == "1/1"
    for bad in ("0/2", "3/2", "1/0", "2", "a/b", "1/2/3", "-1/2"):
        with pytest.raises(argparse.ArgumentTypeError):
            shard.parse_shard(bad)
    assert shard.parse_shard(f"1/{shard.MAX_SHARDS}").count == shard.MAX_SHARDS
    # A typo'd N was an OverflowError traceback (1/99999999999999999999), or
    # seconds and hundreds of MiB of empty parts (1/1000000).
    for bad in (f"1/{shard.MAX_SHARDS + 1}", "1/1000000", "1/99999999999999999999"):
        with pytest.raises(argparse.ArgumentTypeError, match=f"N is at most {shard.MAX_SHARDS}"):
            shard.parse_shard(bad)


def test_connected_groups_follow_edges_both_ways_and_keep_order() -> None:
    tests = ["b", "lib", "a", "c", "d", "lib2", "e"]
    edges = [("lib", "a"), ("lib", "b"), ("d", "c"), ("lib2", "e"), ("e", "c")]
    assert shard.connected_groups(tests, edges) == [["b", "lib", "a"], ["c", "d", "lib2", "e"]]
    # Edge order does not matter.
    assert shard.connected_groups(tests, list(reversed(edges))) == shard.connected_groups(tests, edges)
    assert shard.connected_groups(["x", "y"], []) == [["x"], ["y"]]


def test_groups_are_never_split() -> None:
    groups = [[f"lib{i}", *(f"lib{i}/user{j}" for j in range(i % 4 + 1))] for i in range(30)]
    groups += [[f"solo{i}"] for i in range(50)]
    rng = random.Random(7)
    durations = {t: rng.uniform(0.1, 20) for g in groups for t in g}
    for method in shard.METHODS:
        for count in (1, 2, 3, 7):
            result = shard.split(groups, count, method, durations)
            part_of = result.part_of()
            for group in groups:
                assert len({part_of[t] for t in group}) == 1, (method, count, group)
            every = sorted(t for part in result.parts for t in part)
            assert every == sorted(t for g in groups for t in g)  # each exactly once


def test_lpt_balance_within_10_percent_on_known_durations() -> None:
    rng = random.Random(2026)
    groups = [[f"t{i:03}"] for i in range(120)]
    durations = {g[0]: round(rng.uniform(1, 30), 2) for g in groups}
    # A build with three users weighs as one: 40 s together.
    groups.append(["build", "build/u1", "build/u2", "build/u3"])
    durations.update({"build": 25.0, "build/u1": 5.0, "build/u2": 5.0, "build/u3": 5.0})
    for count in (2, 3, 4, 8):
        result = shard.split(groups, count, "duration", durations)
        assert result.unit == "seconds"
        assert imbalance(result.expected) < 0.10, (count, result.expected)
        assert sum(result.expected) == pytest.approx(sum(durations.values()))


def test_lpt_known_answer() -> None:
    # LPT on 7,6,5,4,3 into 2 parts: 7+4+3=14 and 6+5=11 (first part gets the ties).
    groups = [[name] for name in "abcde"]
    durations = {"a": 7.0, "b": 6.0, "c": 5.0, "d": 4.0, "e": 3.0}
    result = shard.split(groups, 2, "duration", durations)
    assert result.parts == [["a", "d", "e"], ["b", "c"]]
    assert result.expected == [14.0, 11.0]


def test_unknown_durations_count_as_the_mean() -> None:
    groups = [["known1"], ["known2"], ["new1"], ["new2"]]
    weights, unit = shard.weights(["known1", "known2", "new1", "new2"], {"known1": 10.0, "known2": 2.0})
    assert unit == "seconds"
    assert weights == {"known1": 10.0, "known2": 2.0, "new1": 6.0, "new2": 6.0}
    result = shard.split(groups, 2, "duration", {"known1": 10.0, "known2": 2.0})
    assert result.expected == [12.0, 12.0]


def test_no_history_balances_by_count() -> None:
    groups = [[f"t{i}"] for i in range(10)] + [["lib", "u1", "u2"]]
    result = shard.split(groups, 3, "duration", {})
    assert result.unit == "testcases"
    assert sorted(len(p) for p in result.parts) == [4, 4, 5]
    assert result.expected == [float(len(p)) for p in result.parts]
    # Zero-second testcases spread by count too.
    zero = shard.split([[f"z{i}"] for i in range(9)], 3, "duration", {f"z{i}": 0.0 for i in range(9)})
    assert [len(p) for p in zero.parts] == [3, 3, 3]


def test_deterministic_whatever_the_order_of_the_groups() -> None:
    rng = random.Random(1)
    groups = [[f"t{i}"] for i in range(60)]
    durations = {g[0]: float(rng.choice([1, 2, 3, 5, 8])) for g in groups}  # many ties
    first = shard.split(groups, 4, "duration", durations)
    shuffled = list(groups)
    rng.shuffle(shuffled)
    second = shard.split(shuffled, 4, "duration", durations)
    assert [sorted(p) for p in first.parts] == [sorted(p) for p in second.parts]
    assert first.digest() == second.digest()  # the record says "split alike" whatever the discovery order
    assert first.parts == shard.split(groups, 4, "duration", durations).parts
    assert first.digest() == shard.split(groups, 4, "duration", dict(durations)).digest()


def test_hash_is_stable_and_independent_of_the_others() -> None:
    groups = [[f"t{i}"] for i in range(200)]
    result = shard.split(groups, 4, "hash")
    part_of = result.part_of()
    # The same value in every process (hash() is salted per process; this is not).
    assert part_of["t0"] == shard.stable_hash("t0") % 4
    # Adding and removing testcases moves no other one.
    fewer = shard.split([*groups[50:], ["new"]], 4, "hash").part_of()
    assert all(fewer[t] == part_of[t] for t in fewer if t != "new")
    # Not all in one part.
    assert all(30 < len(p) < 70 for p in result.parts)


def test_hash_value_is_pinned() -> None:
    # A change of the hash would move testcases between shards from one version to the next: pinned.
    assert shard.stable_hash("a/b") == 0xC14CDDC033F64B9D
    assert [shard.stable_hash(t) % 3 for t in ("a", "b", "c", "lib/core")] == [1, 1, 2, 2]
    assert shard.split([[f"t{i}"] for i in range(12)], 3, "hash").parts == [
        ["t0", "t4", "t5", "t7", "t8"], ["t6"], ["t1", "t2", "t3", "t9", "t10", "t11"],
    ]


def test_more_parts_than_groups() -> None:
    result = shard.split([["a", "b"]], 3, "duration", {})
    assert result.parts == [["a", "b"], [], []]


def test_load_durations(tmp_path: Path) -> None:
    good = tmp_path / "d.json"
    good.write_text(shard.durations_document([("b", 2), ("a", 1.5), ("c", None)]))
    assert json.loads(good.read_text()) == {"a": 1.5, "b": 2.0}
    assert shard.load_durations(good) == {"a": 1.5, "b": 2.0}
    for text, needle in (("[1]", "JSON object"), ("{", "not JSON"), ('{"a": "x"}', "'a'"), ('{"a": -1}', "'a'")):
        good.write_text(text)
        with pytest.raises(shard.HistoryError, match=needle):
            shard.load_durations(good)
    with pytest.raises(shard.HistoryError, match="cannot read"):
        shard.load_durations(tmp_path / "missing.json")


def _history_dir(path: Path, run: dict[str, object], tests: list[str]) -> Path:
    from e3suite import store

    entries = [{"test": t, "status": "PASS", "message": "", "duration": 2.0, "record": None} for t in tests]
    path.mkdir(parents=True)
    store.write_index(path, {"start": 1.0, "end": 2.0, **run}, entries)
    return path


def test_a_history_of_a_part_of_the_testcases_is_named_in_a_warning(tmp_path: Path) -> None:
    """One shard's directory as --shard-history: most durations missing, and not a word about it."""
    whole = [f"t{i}" for i in range(1, 9)]
    one_shard = _history_dir(tmp_path / "shard2" / "new", {
        "shard": "2/4", "selection": ["--shard=2/4"], "shard_part": whole[2:4], "shard_whole": whole,
    }, whole[2:4])
    durations, source, warning = shard.choose_history(str(tmp_path / "shard2"), tmp_path / "out" / "old")
    # Still used (every machine reads the same), with one line saying what it holds.
    assert (durations, source) == ({"t3": 2.0, "t4": 2.0}, str(tmp_path / "shard2"))
    assert warning == (
        f"--shard-history {tmp_path / 'shard2'} holds the results of shard 2/4 only (2 of the 8 testcases of its "
        "run): the others count as the mean of its durations; give every machine the results of a whole run "
        "(the merge of all its shards)"
    )
    assert shard.choose_history(str(one_shard), tmp_path / "old")[2] == warning.replace(
        str(tmp_path / "shard2"), str(one_shard)
    )
    partial = _history_dir(tmp_path / "partial", {
        "selection": ["--merge-partial=6 missing"], "shard_whole": whole, "merged_from": [],
    }, whole[:2])
    assert shard.choose_history(str(partial), tmp_path / "old")[2] == (
        f"--shard-history {partial} holds a partial merge only (6 testcases of its whole run missing): the others "
        "count as the mean of its durations; give every machine the results of a whole run (the merge of all its "
        "shards)"
    )
    some = _history_dir(tmp_path / "some", {"selection": ["t1", "t2"]}, whole[:2])
    assert shard.choose_history(str(some), tmp_path / "old")[2] == (
        f"--shard-history {some} holds the results of a selection of testcases only (t1 t2: 2 testcases with a "
        "duration): the others count as the mean of its durations; give every machine the results of a whole run "
        "(the merge of all its shards)"
    )
    # The whole: a merge of every shard, a full run, a --failed run (which carries the others over).
    merged = _history_dir(tmp_path / "merged", {"selection": [], "shard_whole": whole}, whole)
    full = _history_dir(tmp_path / "full", {"selection": []}, whole)
    failed = _history_dir(tmp_path / "failed", {"selection": ["--failed"]}, whole)
    for path in (merged, full, failed):
        assert shard.choose_history(str(path), tmp_path / "old") == (dict.fromkeys(whole, 2.0), str(path), None)


class _Steps(TestDriver):
    def add_fragments(self) -> None:
        self.add_fragment("build", self.step)
        self.add_fragment("run", self.step, after=["build", *self.test_env.get("uses", [])])

    def step(self, ctx: object) -> None:
        pass


def test_groups_of_a_plan_and_the_sharding_record(tmp_path: Path) -> None:
    envs = {"lib": {}, "app1": {"uses": ["lib:build"]}, "app2": {"uses": ["lib:build"]}, "alone": {}}
    cases = [Testcase(t, tmp_path / t, env, _Steps) for t, env in envs.items() if t != "lib"]

    def find(test_id: str) -> Testcase | None:
        return Testcase(test_id, tmp_path / test_id, envs[test_id], _Steps) if test_id in envs else None

    plan = build_plan(cases, argparse.Namespace(), tmp_path / "w", find)
    assert list(plan.tests) == ["app1", "app2", "alone", "lib"]  # lib pulled in
    assert shard.groups_of_plan(plan) == [["app1", "app2", "lib"], ["alone"]]
    sharding = shard.shard_plan(plan, shard.ShardSpec(1, 2), "duration", {}, None)
    assert sharding.part == ["app1", "app2", "lib"]
    assert sharding.selected == {"app1", "app2"}  # lib runs, pulled in again by the real plan
    meta = sharding.metadata()
    assert meta["shard"] == "1/2" and meta["shard_by"] == "duration" and meta["shard_history"] is None
    assert meta["shard_whole"] == ["app1", "app2", "alone", "lib"]
    assert meta["shard_expected"] == [3.0, 1.0] and meta["shard_unit"] == "testcases"
    lines = sharding.balance_lines()
    assert lines[0].startswith("e3suite: shard 1/2: 3 of 4 testcases (split by count")
    assert lines[1] == "  part 1/2: 3 testcases, expected 3 testcases (75%)  <- this shard"
    timed = shard.shard_plan(plan, shard.ShardSpec(2, 2), "duration", {"lib": 10.0, "alone": 4.0}, "h.json")
    assert timed.part == ["alone"]
    assert timed.balance_lines() == [
        "e3suite: shard 2/2: 1 of 4 testcases (split by durations of h.json, 2 parts, split "
        f"{timed.split.digest()})",
        "  part 1/2: 3 testcases, expected 24.0 s (86%)",  # app1, app2 count as the mean, 7 s
        "  part 2/2: 1 testcase, expected 4.0 s (14%)  <- this shard",
    ]
    alone = shard.shard_plan(plan, shard.ShardSpec(1, 1), "duration", {}, None)
    assert alone.balance_lines()[0].startswith("e3suite: shard 1/1: 4 of 4 testcases (split by count, 1 part, split ")


def test_docs_show_what_the_commands_print() -> None:
    """docs/sharding.md's balance and refusals are lines tests/sharding/split-and-merge pins."""
    repo = Path(__file__).resolve().parents[2]
    page = (repo / "docs" / "sharding.md").read_text(encoding="utf-8")
    pinned = (repo / "tests" / "sharding" / "split-and-merge" / "test.out").read_text(encoding="utf-8")
    start = page.index("e3suite: shard 1/2: 5 of 9")
    block = page[start : page.index("```", start)].splitlines()
    assert len(block) == 3 and all(line in pinned.splitlines() for line in block)
    for quoted in ("5 testcases in more than one results\n  directory: lib (in shard1/new and merged)",
                   "4 testcases of the whole run missing (shard 2/2 not\n  given)"):
        assert " ".join(quoted.split()) in pinned and quoted in page
    from e3suite.cli import build_parser as cli_parser
    from e3suite.options import build_parser

    run_help, cli_help = build_parser().format_help(), cli_parser()
    for option in ("--shard K/N", "--shard-by", "--shard-history FILE"):
        assert option in run_help and f"`{option.split()[0]}" in page
    sub = {name: parser.format_help() for name, parser in cli_help._subparsers._group_actions[0].choices.items()}
    assert "--durations FILE" in sub["report"] and "--allow-partial" in sub["merge"] and "--tests-dir" in sub["rewrite"]


HISTORY_SUITE = """
import json, sys
from pathlib import Path
import e3suite.store as store
from e3suite import Testsuite
from e3suite.drivers import ShellDriver

read = store.previous_durations

def telling(old_dir):
    index = Path(old_dir) / "index.json"
    jobs = json.loads(index.read_text())["run"]["jobs"] if index.is_file() else None
    print(f"history read: run of -j{jobs}", file=sys.stderr)
    return read(old_dir)

store.previous_durations = telling

class Suite(Testsuite):
    test_driver_map = {"shell": ShellDriver}

if __name__ == "__main__":
    sys.exit(Suite().main())
"""


def test_a_shard_run_plans_with_the_previous_run_as_a_plain_run_does(tmp_path: Path) -> None:
    """Priorities and the time left come from the run before this one, --shard or not (not the one before it)."""
    from drivers_support import make_suite, run_suite

    root = make_suite(tmp_path, {f"tests/t{i}/test.yaml": "driver: shell\ncmd: [true]\n" for i in range(3)},
                      HISTORY_SUITE)
    assert run_suite(root, "-j1").code == 0
    assert run_suite(root, "-j2").code == 0
    plain = run_suite(root, "-j3").stderr.splitlines()
    assert [line for line in plain if line.startswith("history read")] == ["history read: run of -j2"]
    sharded = run_suite(root, "-j2", "--shard", "1/1").stderr.splitlines()
    # The split's probe reads DIR/old before the rotation (-j2 then); the run itself the run before it (-j3).
    assert [line for line in sharded if line.startswith("history read")][-1] == "history read: run of -j3"
