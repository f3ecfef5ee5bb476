"""Sharding for CI: which testcases the K-th of N machines runs (``--shard K/N``).

The unit of the split is a *group*: testcases connected by dependencies,
in either direction (a shared build and all its users, transitively), so
that no testcase ever runs in two shards and no dependency is left behind.
``split`` is a pure function of the groups, the number of parts, the method
and the durations: the same testcases and the same history give the same
split on every machine, whatever the order of the machines.

- ``duration`` (default): longest processing time first. Groups, heaviest
  first, go one by one onto the part that is lightest so far. A testcase
  without a known duration counts as the mean of the known ones; with none
  known at all every testcase counts 1, so parts are balanced by count.
- ``hash``: a group goes to the part its smallest id's SHA-256 names; a
  testcase keeps its shard when others are added or removed, at the cost of
  balance.

``groups_of_plan`` reads the groups off a plan (dependencies are only known
once drivers declared their fragments); ``Sharding`` is what a shard run
records in its run metadata. This module never runs anything and never
writes a file; ``load_durations`` is its one read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from e3suite.model import never_started

if TYPE_CHECKING:  # options.py imports this module: it must stay light
    from e3suite.plan import Plan

METHODS = ("duration", "hash")
#: The most parts ``--shard K/N`` accepts: far above any CI matrix (GitHub
#: Actions allows 256 jobs, GitLab's ``parallel`` 200), low enough that the
#: per-part work (the balance lines, LPT's lightest-part search) stays cheap.
MAX_SHARDS = 1000


@dataclass(frozen=True)
class ShardSpec:
    """``K/N``: the K-th (1-based) of N parts."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> ShardSpec:
    """The argparse type of ``--shard K/N``."""
    index_text, sep, count_text = text.partition("/")
    try:
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N (e.g. 2/4)") from None
    if not sep or count < 1 or not 1 <= index <= count:
        raise argparse.ArgumentTypeError(f"{text!r}: K/N needs 1 <= K <= N (e.g. 2/4)")
    if count > MAX_SHARDS:
        raise argparse.ArgumentTypeError(f"{text!r}: N is at most {MAX_SHARDS}")
    return ShardSpec(index, count)


# -- groups --------------------------------------------------------------------


def connected_groups(tests: Sequence[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Testcases connected by an edge, in either direction, as groups.

    Each group lists its ids in the order of ``tests``; groups come in the
    order of their first testcase. Union-find with path halving: linear
    for all practical purposes.
    """
    parent = {test: test for test in tests}

    def root(test: str) -> str:
        while parent[test] != test:
            parent[test] = parent[parent[test]]
            test = parent[test]
        return test

    position = {test: i for i, test in enumerate(tests)}
    for a, b in edges:
        ra, rb = root(a), root(b)
        if ra != rb:
            # The earlier testcase stays the root: the result never depends on edge order.
            if position[ra] < position[rb]:
                parent[rb] = ra
            else:
                parent[ra] = rb
    groups: dict[str, list[str]] = {}
    for test in tests:
        groups.setdefault(root(test), []).append(test)
    return list(groups.values())


def groups_of_plan(plan: Plan) -> list[list[str]]:
    """The groups of a plan: its testcases (selected or pulled in) joined by their fragments' edges."""
    edges = (
        (plan.fragments[pred].test_id, fragment.test_id)
        for fragment in plan.fragments
        for pred in fragment.preds
        if plan.fragments[pred].test_id != fragment.test_id
    )
    return connected_groups(list(plan.tests), edges)


# -- the split -------------------------------------------------------------------


@dataclass
class Split:
    """N parts: the ids of each (in the order of the groups given) and their expected time."""

    parts: list[list[str]]
    #: per part: the sum of its testcases' weights (seconds, or testcases when balanced by count)
    expected: list[float]
    #: "seconds" when weights are durations, "testcases" when every testcase counted 1
    unit: str

    def part_of(self) -> dict[str, int]:
        """Test id -> its part, 0-based."""
        return {test: k for k, part in enumerate(self.parts) for test in part}

    def digest(self) -> str:
        """A short fingerprint of the whole assignment: equal on every machine that split alike."""
        # Sorted: the order testcases were discovered in may differ between machines, the assignment not.
        text = json.dumps([sorted(part) for part in self.parts], separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def weights(tests: Iterable[str], durations: Mapping[str, float]) -> tuple[dict[str, float], str]:
    """Each testcase's weight and the unit: known durations, the mean for the others; 1 each without any."""
    tests = list(tests)
    known = [float(durations[t]) for t in tests if t in durations]
    if not known:
        return dict.fromkeys(tests, 1.0), "testcases"
    mean = math.fsum(known) / len(known)
    return {t: float(durations[t]) if t in durations else mean for t in tests}, "seconds"


def stable_hash(text: str) -> int:
    """A hash that is the same in every process and on every machine (``hash()`` is salted)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def split(
    groups: Sequence[Sequence[str]],
    count: int,
    method: str = "duration",
    durations: Mapping[str, float] | None = None,
) -> Split:
    """Deal ``groups`` into ``count`` parts (see the module's docstring)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}")
    weight, unit = weights((t for g in groups for t in g), durations or {})
    loads = [0.0] * count
    sizes = [0] * count
    where: list[int] = [0] * len(groups)
    if method == "hash":
        for i, group in enumerate(groups):
            where[i] = stable_hash(min(group)) % count if group else 0
    else:
        group_weight = [math.fsum(weight[t] for t in group) for group in groups]
        # Heaviest first; equal weights by smallest id, never by input order:
        # two machines that discovered the same testcases agree.
        order = sorted(range(len(groups)), key=lambda i: (-group_weight[i], min(groups[i], default="")))
        for i in order:
            # The lightest part so far; among equals the one with fewer testcases,
            # so that zero-duration testcases spread too; then the first.
            target = min(range(count), key=lambda k: (loads[k], sizes[k], k))
            where[i] = target
            loads[target] += group_weight[i]
            sizes[target] += len(groups[i])
    parts: list[list[str]] = [[] for _ in range(count)]
    for i, group in enumerate(groups):
        parts[where[i]].extend(group)
    expected = [math.fsum(weight[t] for t in part) for part in parts]
    return Split(parts, expected, unit)


# -- history -----------------------------------------------------------------------


class HistoryError(Exception):
    """A durations file that cannot be used (unreadable, not ``{id: seconds}``)."""


def load_durations(path: Path) -> dict[str, float]:
    """``--shard-history FILE``: the JSON object ``e3suite report DIR --durations FILE`` writes."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HistoryError(f"--shard-history: cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise HistoryError(f"--shard-history: {path} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise HistoryError(f"--shard-history: {path} must hold a JSON object (test id -> seconds)")
    durations: dict[str, float] = {}
    for test, seconds in document.items():
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) \
                or seconds < 0:
            raise HistoryError(f"--shard-history: {path}: the duration of {test!r} is not a number of seconds")
        durations[test] = float(seconds)
    return durations


def results_durations(path: Path) -> tuple[dict[str, float], dict[str, Any]] | None:
    """The durations and run metadata of a results directory (or its parent); None when it is none."""
    import e3suite.store as store  # only shard runs read one here

    if not (path / store.INDEX).exists() and not (path / store.JOURNAL).exists() and (path / "new").is_dir():
        path = path / "new"
    try:
        run = store.load_run(path)
    except (store.StoreError, OSError):
        return None
    durations = {
        str(e["test"]): float(e["duration"])
        for e in run.entries
        if isinstance(e.get("duration"), (int, float)) and not isinstance(e.get("duration"), bool)
        and not never_started(e.get("status"), e.get("message"))  # 0 s: it never ran
    }
    return durations, run.run


def choose_history(explicit: str | None, old_dir: Path) -> tuple[dict[str, float], str | None, str | None]:
    """(durations, their source, a warning) for the split.

    ``explicit`` is ``--shard-history``: a durations file or a results
    directory (warned of when it holds a part of the testcases only:
    ``partial_history``). Without it, the previous run ``old_dir`` is used,
    unless it is itself one shard's run: it knows only its own part's
    durations, and another machine's would differ, so the machines would
    not split alike.
    """
    if explicit:
        path = Path(explicit)
        if path.is_dir():
            found = results_durations(path)
            if found is None:
                raise HistoryError(f"--shard-history: {path} is not a results directory nor a durations file")
            return found[0], explicit, _partial_history_warning(explicit, found[1], len(found[0]))
        return load_durations(path), explicit, None
    found = results_durations(old_dir)
    if found is None or not found[0]:
        return {}, None, None
    durations, run = found
    if run.get("shard"):
        return {}, None, (
            f"{old_dir} is the run of shard {run['shard']} only: its durations are not used for the split "
            "(another machine's would differ); balanced by count: give every machine the same --shard-history"
        )
    return durations, str(old_dir), None


#: What the warnings about a partial history advise.
WHOLE_HISTORY = "give every machine the results of a whole run (the merge of all its shards)"


def partial_history(run: Mapping[str, Any], known: int) -> str | None:
    """What a results directory holds when it is the results of a part of the testcases only (None: all of them).

    ``run`` is its run metadata, ``known`` how many durations it gave. One
    shard's directory (or a partial merge, or a run of selected testcases)
    as the history knows the durations of its part only: every machine
    reads the same, so they still split alike, but the testcases it lacks
    weigh the mean of the known ones, and the balance is mostly guesswork.
    """
    shard, part, whole = run.get("shard"), run.get("shard_part"), run.get("shard_whole")
    selection = [item for item in run.get("selection") or [] if isinstance(item, str)]
    if isinstance(shard, str) and shard:
        held = len(part) if isinstance(part, list) else known
        of = f"{held} of the {len(whole)} testcases of its run" if isinstance(whole, list) else _testcases(held)
        return f"the results of shard {shard} only ({of})"
    # A partial merge's selection holds "--merge-partial=N missing" (e3suite/merge.py).
    partial = [item.partition("=")[2].partition(" ")[0] for item in selection if item.startswith("--merge-partial=")]
    missing = partial[0] if partial else ""
    if missing.isdigit():
        return f"a partial merge only ({_testcases(int(missing))} of its whole run missing)"
    chosen = [item for item in selection if not item.startswith("--")]
    if chosen:
        shown = " ".join(chosen[:5]) + (f" ... and {len(chosen) - 5} more" if len(chosen) > 5 else "")
        return f"the results of a selection of testcases only ({shown}: {_testcases(known)} with a duration)"
    return None


def _partial_history_warning(name: str, run: Mapping[str, Any], known: int) -> str | None:
    held = partial_history(run, known)
    if held is None:
        return None
    return f"--shard-history {name} holds {held}: the others count as the mean of its durations; {WHOLE_HISTORY}"


def durations_document(entries: Iterable[tuple[str, Any]]) -> str:
    """The text of a durations file (sorted ids, so that it diffs well) from (id, duration) pairs."""
    known = {test: float(d) for test, d in entries if isinstance(d, (int, float)) and not isinstance(d, bool)}
    return json.dumps(dict(sorted(known.items())), indent=1) + "\n"


# -- what a shard run records -------------------------------------------------------


@dataclass
class Sharding:
    """A shard run's part of the whole, and how the split was made (its run metadata)."""

    spec: ShardSpec
    method: str
    history: str | None  # where the durations came from (None: no history)
    split: Split
    whole: list[str]  # every testcase of the whole run, in plan order
    selected: set[str] = field(default_factory=set)  # of this part: the selected ones (not pulled in)

    @property
    def part(self) -> list[str]:
        return self.split.parts[self.spec.index - 1]

    def metadata(self) -> dict[str, Any]:
        """The keys of index.json "run" (docs/sharding.md)."""
        return {
            "shard": str(self.spec),
            "shard_by": self.method,
            "shard_history": self.history,
            "shard_split": self.split.digest(),
            "shard_expected": [round(x, 3) for x in self.split.expected],
            "shard_unit": self.split.unit,
            "shard_part": list(self.part),
            "shard_whole": list(self.whole),
        }

    def balance_lines(self) -> list[str]:
        """What ``--shard K/N --list`` prints about the balance: one line per part."""
        total = math.fsum(self.split.expected)
        source = f"durations of {self.history}" if self.history and self.split.unit == "seconds" else "count"
        if self.method == "hash":
            source = "hash" + (f", expected times from {self.history}" if self.history else "")
        lines = [
            f"e3suite: shard {self.spec}: {len(self.part)} of {len(self.whole)} testcases "
            f"(split by {source}, {_parts(len(self.split.parts))}, split {self.split.digest()})"
        ]
        for k, (part, expected) in enumerate(zip(self.split.parts, self.split.expected, strict=True), start=1):
            share = expected / total if total else 0.0
            amount = _seconds(expected) if self.split.unit == "seconds" else _testcases(round(expected))
            mark = "  <- this shard" if k == self.spec.index else ""
            size = _testcases(len(part))
            lines.append(f"  part {k}/{self.spec.count}: {size}, expected {amount} ({share:.0%}){mark}")
        return lines


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 100 else f"{value:.1f} s" if value >= 1 else f"{value:.3f} s"


def shard_plan(
    plan: Plan,
    spec: ShardSpec,
    method: str,
    durations: Mapping[str, float],
    history: str | None,
) -> Sharding:
    """The split of ``plan``'s testcases and this shard's place in it."""
    groups = groups_of_plan(plan)
    result = split(groups, spec.count, method, durations)
    part = set(result.parts[spec.index - 1])
    selected = {t for t, planned in plan.tests.items() if planned.selected and t in part}
    return Sharding(spec, method, history if durations else None, result, list(plan.tests), selected)


def _parts(count: int) -> str:
    return "1 part" if count == 1 else f"{count} parts"


def _testcases(count: int) -> str:
    return f"{count} testcase" if count == 1 else f"{count} testcases"
