"""``--shard K/N`` runs and ``e3suite merge``, end to end with real processes.

A suite with a shared build (``lib``, used by two testcases), testcases that
run real commands, one that fails on a baseline difference: shards 1/2 and
2/2 run (as real ``python testsuite.py`` processes), together every testcase
exactly once with the build beside its users, and their merge reports as
one run would (JUnit validated against the schema and read back). The merge
refuses an overlap and a missing shard; the shards' directories, moved
elsewhere with the testsuite, still merge, report and rewrite.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import junitparser
import pytest
import xmlschema
from drivers_support import make_suite, run_e3suite, run_suite

from e3suite import merge, store
from e3suite.reports.json_report import SCHEMA

DATA = Path(__file__).resolve().parent / "data"

SUITE = '''
import sys

from e3suite import FragmentContext, TestDriver, Testsuite, TestStatus
from e3suite.drivers import DiffDriver


class BuildDriver(TestDriver):
    """build: writes a file in its working directory (a real command)."""

    def add_fragments(self):
        self.add_fragment("build", self.build)
        self.add_fragment("run", self.run, after=["build"])

    def build(self, ctx: FragmentContext):
        out = ctx.working_dir / "lib.txt"
        ctx.shell(["sh", "-c", f"echo built-by-$$ > {out}"])
        return str(out)

    def run(self, ctx: FragmentContext):
        ctx.result.set_status(TestStatus.PASS, "built")


class UserDriver(TestDriver):
    def add_fragments(self):
        self.add_fragment("run", self.run, after=["lib:build"])

    def run(self, ctx: FragmentContext):
        # The build ran before, in this run: its users are never in another shard.
        ok = "lib:build" in ctx.previous and ctx.shell(["true"]).ok
        ctx.result.set_status(TestStatus.PASS if ok else TestStatus.FAIL, "after lib:build")


class CommandDriver(TestDriver):
    def add_fragments(self):
        self.add_fragment("run", self.run)

    def run(self, ctx: FragmentContext):
        result = ctx.shell(self.test_env["cmd"])
        ctx.result.set_status(TestStatus.PASS if result.ok else TestStatus.FAIL, result.describe())


class Suite(Testsuite):
    test_driver_map = {"build": BuildDriver, "user": UserDriver, "command": CommandDriver, "diff": DiffDriver}
    default_driver = "command"


if __name__ == "__main__":
    sys.exit(Suite().main())
'''

FILES: dict[str, str | bytes] = {
    "tests/lib/test.yaml": "driver: build\n",
    "tests/users/a/test.yaml": "driver: user\n",
    "tests/users/b/test.yaml": "driver: user\n",
    "tests/differs/test.yaml": "driver: diff\ncmd: [echo, new]\n",
    "tests/differs/test.out": "old\n",
    **{f"tests/cmd/t{i}/test.yaml": f"cmd: 'echo t{i}'\n" for i in range(1, 8)},
    "tests/cmd/skipped/test.yaml": "cmd: 'true'\ncontrol:\n  - [SKIP, 'True', not here]\n",
}
ALL = {"lib", "users/a", "users/b", "differs", "cmd/skipped", *(f"cmd/t{i}" for i in range(1, 8))}


def index(results_dir: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((results_dir / "index.json").read_text())
    return document


def run_shards(root: Path, count: int = 2, *extra: str) -> list[Path]:
    dirs = []
    for k in range(1, count + 1):
        run = run_suite(root, "-j2", "--shard", f"{k}/{count}", "-o", f"shard{k}", *extra)
        assert run.code in (0, 1), run.stdout + run.stderr
        assert f"e3suite: shard {k}/{count}:" in run.stderr
        dirs.append(root / f"shard{k}" / "new")
    return dirs


def test_two_shards_run_everything_once_and_merge_into_one_run(tmp_path: Path) -> None:
    root = make_suite(tmp_path / "suite", FILES, SUITE)
    dirs = run_shards(root)
    parts = [index(d) for d in dirs]
    ran = [[e["test"] for e in part["results"]] for part in parts]
    assert sorted(ran[0] + ran[1]) == sorted(ALL)  # every testcase exactly once
    build_part = next(i for i, ids in enumerate(ran) if "lib" in ids)
    assert {"users/a", "users/b"} <= set(ran[build_part])  # the build stays with its users
    for k, part in enumerate(parts, start=1):
        run = part["run"]
        assert run["shard"] == f"{k}/2" and run["shard_by"] == "duration" and run["shard_history"] is None
        assert sorted(run["shard_part"]) == sorted(ran[k - 1])
        assert sorted(run["shard_whole"]) == sorted(ALL)
        assert run["selection"] == [f"--shard={k}/2"]
        assert run["shard_unit"] == "testcases" and run["shard_expected"] in ([6.0, 6.0],)  # balanced by count
    assert parts[0]["run"]["shard_split"] == parts[1]["run"]["shard_split"]
    # Each shard's summary counts its part only.
    one = run_e3suite(root, "report", "shard1/new")
    assert one.stdout.splitlines()[-1].startswith("e3suite: ")
    assert sum(int(w) for w in one.stdout.splitlines()[-1].split()[1::2][:3]) == len(ran[0])

    merged = run_e3suite(root, "merge", "shard2", "shard1", "-o", "merged")
    assert merged.returncode == 0, merged.stderr
    assert merged.stdout == "e3suite merge: 12 testcases from 2 results directories (1/2, 2/2) in merged\n"

    # The same summary, JUnit and JSON as one run of everything.
    full = run_suite(root, "-j2", "-o", "full", "--no-compare")
    assert full.code == 1
    rep_full = run_e3suite(root, "report", "full/new", "--json", "full.json", "--junit", "full.xml")
    rep_merged = run_e3suite(root, "report", "merged", "--json", "merged.json", "--junit", "merged.xml",
                             "--html", "merged.html")
    assert rep_merged.returncode == 0, rep_merged.stderr
    assert rep_merged.stdout == rep_full.stdout
    assert rep_merged.stdout.splitlines()[-1] == "e3suite: 10 passed, 1 failed, 1 skipped"
    xmlschema.XMLSchema(str(DATA / "junit.xsd")).validate(str(root / "merged.xml"))
    suites = {
        name: next(iter(junitparser.JUnitXml.fromfile(str(root / f"{name}.xml")))) for name in ("full", "merged")
    }
    for suite in suites.values():
        assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (12, 1, 0, 1)

    def cases(suite: junitparser.TestSuite) -> dict[str, list[str]]:
        return {f"{c.classname}/{c.name}": [type(r).__name__ for r in c.result] for c in suite}

    assert cases(suites["merged"]) == cases(suites["full"])
    documents = {name: json.loads((root / f"{name}.json").read_text()) for name in ("full", "merged")}
    jsonschema.validate(documents["merged"], SCHEMA)
    assert documents["merged"]["counts"] == documents["full"]["counts"]
    assert sorted(t["id"] for t in documents["merged"]["testcases"]) == sorted(ALL)
    # Slots are the first shard's, then the second's: one lane per slot of each machine.
    slots = {t["id"]: {f["slot"] for f in t["fragments"]} for t in documents["merged"]["testcases"]}
    first = set(ran[0])
    assert all(s <= {0, 1} for t, s in slots.items() if t in first and None not in s)
    assert all(s <= {2, 3} for t, s in slots.items() if t not in first and None not in s)
    assert "<script" in (root / "merged.html").read_text()
    assert index(root / "merged")["run"]["jobs"] == 4

    # The merge is the previous run of a later one: nothing new, nothing removed.
    shutil.copytree(root / "merged", root / "later" / "old")
    later = run_suite(root, "-j2", "-o", "later")
    assert later.code == 1
    assert "compared with" not in later.stdout  # nothing changed: no comparison block
    compared = run_e3suite(root, "report", "later/new", "--json", "-")
    comparison = json.loads(compared.stdout)["comparison"]
    assert comparison["old_count"] == 12
    assert [comparison[c] for c in ("new", "removed", "new_failures", "fixed")] == [[], [], [], []]


def test_a_shard_compared_with_its_previous_run_removes_nothing(tmp_path: Path) -> None:
    root = make_suite(tmp_path / "suite", FILES, SUITE)
    run_shards(root)
    again = run_suite(root, "-j2", "--shard", "1/2", "-o", "shard1")
    assert "removed" not in again.stdout
    report = json.loads(run_e3suite(root, "report", "shard1/new", "--json", "-").stdout)["comparison"]
    assert report["old_count"] > 0 and report["removed"] == [] and report["new"] == []
    # Compared with the whole (a merge), a shard does not call the other part removed either.
    assert run_e3suite(root, "merge", "shard1/old", "shard2", "-o", "merged").returncode == 0
    whole = json.loads(run_e3suite(root, "report", "shard1/new", "--compare", "merged", "--json", "-").stdout)
    assert whole["comparison"]["old_count"] == 12 and whole["comparison"]["removed"] == []


def test_failed_with_shard_reruns_every_failure_once_and_merges(tmp_path: Path) -> None:
    # The failures alone were split: each machine reran a part of its own
    # failures (2 of 4 here) and carried the others over, rerun by no one;
    # after a merged previous run, each carried over the whole, so the merge
    # of the reruns was refused as an overlap.
    failing = {f"fail/f{i}" for i in range(1, 9)}
    files = {**FILES, **{f"tests/{t}/test.yaml": "cmd: 'exit 1'\n" for t in failing}}
    root = make_suite(tmp_path / "suite", files, SUITE)
    run_shards(root, 2, "--timeout", "60")
    failures = failing | {"differs"}

    def rerun(prefix: str) -> list[set[str]]:
        ran = []
        for k in (1, 2):
            run = run_suite(root, "-j2", "--failed", "--shard", f"{k}/2", "-o", f"{prefix}{k}")
            assert run.code == 1, run.stdout + run.stderr
            entries = index(root / f"{prefix}{k}" / "new")["results"]
            ran.append({e["test"] for e in entries if not e.get("carried_over")})
        return ran

    ran = rerun("shard")
    assert ran[0] | ran[1] == failures and not ran[0] & ran[1]
    assert run_e3suite(root, "merge", "shard1", "shard2", "-o", "merged").returncode == 0
    assert {e["test"] for e in index(root / "merged")["results"]} == ALL | failing

    # Every machine's previous run is the merge (restored as -o DIR/new): the same, once each.
    for k in (1, 2):
        shutil.copytree(root / "merged", root / f"again{k}" / "new")
    ran = rerun("again")
    assert ran[0] | ran[1] == failures and not ran[0] & ran[1]
    merged = run_e3suite(root, "merge", "again1", "again2", "-o", "merged-again")
    assert merged.returncode == 0, merged.stderr
    assert len(index(root / "merged-again")["results"]) == len(ALL | failing)
    # What was carried over keeps the slots of the run that ran it (the first merge): the second
    # shard's were moved again, onto slots 4 and 5 of a merged run of 4 (-j2 twice).
    before, after = fragment_slots(root / "merged"), fragment_slots(root / "merged-again")
    carried = {e["test"] for k in (1, 2) for e in index(root / f"again{k}" / "new")["results"] if e.get("carried_over")}
    assert carried and {t: after[t] for t in carried} == {t: before[t] for t in carried}
    assert set().union(*after.values()) <= {0, 1, 2, 3}
    # What ran is renumbered as ever: the second shard's after the first's -j.
    reran = {e["test"] for e in index(root / "again2" / "new")["results"] if not e.get("carried_over")}
    assert reran and all(after[t] <= {2, 3} for t in reran)


def fragment_slots(results_dir: Path) -> dict[str, set[int]]:
    """Test id -> the slots its record's fragments ran in."""
    run = store.load_run(results_dir)
    return {
        str(e["test"]): {f["slot"] for f in store.load_record(run, e).to_json()["fragments"] if f["slot"] is not None}
        for e in run.entries
    }


def test_one_shard_as_the_history_of_the_next_split_is_warned_of(tmp_path: Path) -> None:
    """--shard-history shard2 (not the merge): half the durations missing, and the balance fell back in silence."""
    root = make_suite(tmp_path / "suite", FILES, SUITE)
    dirs = run_shards(root)
    held = len(index(dirs[1])["run"]["shard_part"])
    says = (
        f"e3suite: warning: --shard-history shard2 holds the results of shard 2/2 only ({held} of the 12 testcases "
        "of its run): the others count as the mean of its durations; give every machine the results of a whole "
        "run (the merge of all its shards)\n"
    )
    run = run_suite(root, "-j2", "--shard", "1/2", "--shard-history", "shard2", "-o", "next1")
    assert run.code in (0, 1) and run.stderr.startswith(says), run.stderr
    assert "e3suite: shard 1/2: " in run.stderr and index(root / "next1" / "new")["results"]  # it ran
    # A durations file written from one shard says so too: as a history, it would not.
    written = run_e3suite(root, "report", "shard2", "--durations", "d.json")
    assert written.returncode == 0 and (root / "d.json").is_file()
    assert written.stderr == (
        f"e3suite: warning: shard2/new holds the results of shard 2/2 only ({held} of the 12 testcases of its run): "
        "--durations d.json has theirs only; for --shard-history, give every machine the results of a whole run "
        "(the merge of all its shards)\n"
    )
    assert run_e3suite(root, "merge", "shard1", "shard2", "-o", "merged").returncode == 0
    whole = run_suite(root, "-j2", "--shard", "1/2", "--shard-history", "merged", "--list")
    assert whole.code == 0 and "warning" not in whole.stderr, whole.stderr
    assert run_e3suite(root, "report", "merged", "--durations", "d.json").stderr == ""


def test_merge_refuses_an_overlap_and_a_missing_shard(tmp_path: Path) -> None:
    root = make_suite(tmp_path / "suite", FILES, SUITE)
    dirs = run_shards(root)
    assert run_suite(root, "-j2", "-o", "full").code == 1
    overlap = run_e3suite(root, "merge", "shard1", "full", "-o", "merged")
    assert overlap.returncode == 2
    first = sorted(index(dirs[0])["run"]["shard_part"])
    head = f"e3suite merge: error: {len(first)} testcases in more than one results directory: "
    assert overlap.stderr.startswith(head)
    assert f"{first[0]} (in shard1/new and full/new)" in overlap.stderr
    assert not (root / "merged").exists()

    first_ids, second_ids = ([e["test"] for e in index(d)["results"]] for d in dirs)
    missing = run_e3suite(root, "merge", "shard1", "-o", "merged")
    assert missing.returncode == 2
    second = sorted(index(dirs[1])["run"]["shard_part"])
    in_order = [t for t in index(dirs[0])["run"]["shard_whole"] if t in second]
    assert missing.stderr == (
        f"e3suite merge: error: {len(second)} testcases of the whole run missing (shard 2/2 not given): "
        f"{', '.join(in_order)} (--allow-partial merges what is there)\n"
    )
    assert not (root / "merged").exists()

    partial = run_e3suite(root, "merge", "shard1", "-o", "merged", "--allow-partial")
    assert partial.returncode == 0 and "warning" in partial.stderr
    assert index(root / "merged")["run"]["selection"] == [f"--merge-partial={len(second)} missing"]
    # Its report says it lacks them: its summary read as the whole run's, the lost shard's failures nowhere.
    report = run_e3suite(root, "report", "merged", "--json", "-")
    assert report.stderr.startswith(
        f"e3suite: warning: merged is a partial merge: {len(second)} testcases of its whole run are missing "
        "from it (e3suite merge --allow-partial)\n"
    ), report.stderr
    assert json.loads(report.stdout)["run"]["selection"] == [f"--merge-partial={len(second)} missing"]
    # The partial merge still knows the whole: merged again alone it is refused, and
    # merged with the missing shard it is whole (neither was so: the merge dropped
    # shard_whole and passed its "--merge-partial" on).
    again = run_e3suite(root, "merge", "merged", "-o", "again")
    assert again.returncode == 2 and "of the whole run missing (shard 2/2 not given)" in again.stderr, again.stderr
    completed = run_e3suite(root, "merge", "shard2", "merged", "-o", "completed")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "e3suite merge: 12 testcases from 2 results directories (merged, 2/2) in completed\n"
    run = index(root / "completed")["run"]
    assert run["selection"] == []
    assert sorted(run["shard_whole"]) == sorted(ALL)
    assert [m["shards"] for m in run["merged_from"]] == [["1/2"], ["2/2"]]
    assert [e["test"] for e in index(root / "completed")["results"]] == first_ids + second_ids
    # A later merge replaces OUT; OUT that is not a results directory is never replaced.
    assert run_e3suite(root, "merge", "shard1", "shard2", "-o", "merged").returncode == 0
    assert len(index(root / "merged")["results"]) == 12
    (root / "precious").mkdir()
    (root / "precious" / "notes.txt").write_text("mine")
    refused = run_e3suite(root, "merge", "shard1", "shard2", "-o", "precious")
    assert refused.returncode == 2 and "not a results directory" in refused.stderr
    assert (root / "precious" / "notes.txt").read_text() == "mine"


def test_shards_made_elsewhere_merge_report_and_rewrite(tmp_path: Path) -> None:
    root = make_suite(tmp_path / "machine" / "suite", FILES, SUITE)
    run_shards(root)
    # The shards' results and the testsuite move: another machine, another checkout path.
    moved = tmp_path / "elsewhere" / "checkout"
    shutil.move(str(root), str(moved))
    merged = run_e3suite(moved, "merge", "shard1", "shard2", "-o", "merged")
    assert merged.returncode == 0, merged.stderr
    report = run_e3suite(moved, "report", "merged", "-E")
    assert report.stdout.splitlines()[-1] == "e3suite: 10 passed, 1 failed, 1 skipped"
    assert "+new" in report.stdout and "unreadable" not in report.stdout
    dry = run_e3suite(moved, "rewrite", "merged", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "updated  differs: tests/differs/test.out" in dry.stdout
    assert run_e3suite(moved, "rewrite", "merged").returncode == 0
    assert (moved / "tests" / "differs" / "test.out").read_text() == "new\n"
    assert not (tmp_path / "machine" / "suite").exists()  # nothing written where the records said


def test_shard_list_prints_the_balance_and_the_hash_split(tmp_path: Path) -> None:
    root = make_suite(tmp_path / "suite", FILES, SUITE)
    history = root / "history.json"
    history.write_text(json.dumps({"lib": 10.0, "users/a": 1.0, "users/b": 1.0, "differs": 4.0,
                                   **{f"cmd/t{i}": float(i) for i in range(1, 8)}}))
    listed: list[set[str]] = []
    for k in (1, 2):
        run = run_suite(root, "--shard", f"{k}/2", "--list", "--shard-history", str(history))
        assert run.code == 0
        listed.append(set(run.stdout.split()))
        lines = run.stderr.splitlines()
        assert lines[0].startswith(f"e3suite: shard {k}/2: ") and "split by durations of" in lines[0]
        # cmd/skipped has no history: it counts as the mean, 44/11 = 4 s; 48 s in all, 24 s each.
        assert [line.split("expected ")[1].split(" (")[0] for line in lines[1:]] == ["24.0 s", "24.0 s"]
        assert lines[k].endswith("<- this shard")
    assert listed[0] | listed[1] == ALL and not listed[0] & listed[1]
    assert not (root / "out").exists()  # --list touches nothing
    by_hash = [set(run_suite(root, "--shard", f"{k}/3", "--list", "--shard-by", "hash").stdout.split())
               for k in (1, 2, 3)]
    assert set().union(*by_hash) == ALL and sum(len(p) for p in by_hash) == len(ALL)
    bad = run_suite(root, "--shard", "3/2", "--list")
    assert bad.code == 2 and "K/N needs 1 <= K <= N" in bad.stderr


def _shard_input(tmp_path: Path, shard: str, split: str, tests: list[str]) -> merge._Input:
    run = {"shard": shard, "shard_split": split, "shard_whole": ["a", "b", "c"]}
    entries = [{"test": t, "status": "PASS", "message": "", "duration": 1.0, "record": None} for t in tests]
    return merge._Input(tmp_path / shard.replace("/", "-"), store.LoadedRun(tmp_path, run, entries, True))


def test_an_overlap_of_shards_split_unlike_says_why(tmp_path: Path) -> None:
    """Shard 1/2 balanced without history and 2/2 with it overlap; the refusal named the ids only."""
    first = _shard_input(tmp_path, "1/2", "1111", ["a", "b"])
    second = _shard_input(tmp_path, "2/2", "2222", ["b", "c"])
    with pytest.raises(merge.MergeError) as refused:
        merge.check([first, second], allow_partial=False)
    assert str(refused.value) == (
        f"1 testcase in more than one results directory: b (in {first.path} and {second.path}); "
        "the shards were not split alike (different testcases or --shard-history): "
        "give every machine the same --shard-history FILE"
    )
    # Split alike, an overlap is just that (the same shard given twice, a whole run among shards).
    second = _shard_input(tmp_path, "2/2", "1111", ["b", "c"])
    with pytest.raises(merge.MergeError, match=r"^1 testcase in more than one results directory: b \(in [^(]*\)$"):
        merge.check([first, second], allow_partial=False)


def test_a_merge_with_a_killed_shard_did_not_finish(tmp_path: Path) -> None:
    """Its report said "the run's index is missing or unreadable", as if the run had ended."""
    from e3suite.reports.data import load_report

    ended = _shard_input(tmp_path, "1/2", "1111", ["a", "b"])
    ended.loaded.run.update(start=10.0, end=20.0)
    killed = _shard_input(tmp_path, "2/2", "1111", ["c"])
    killed.loaded.run.update(start=11.0)
    killed.loaded.complete = False
    run = merge.merged_run([ended, killed], [], ["e3suite", "merge"])
    assert "end" not in run and run["start"] == 10.0
    merge.write_merged([ended, killed], tmp_path / "merged", run)
    report = load_report(tmp_path / "merged")
    assert not report.complete and report.run.get("end") is None
    ended.loaded.complete = killed.loaded.complete = True
    killed.loaded.run["end"] = 25.0
    assert merge.merged_run([ended, killed], [], ["e3suite", "merge"])["end"] == 25.0
