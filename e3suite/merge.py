"""``e3suite merge DIR... -o OUT``: one results directory from the shards of a run.

The inputs are results directories of disjoint testcases: the shards of a
``--shard K/N`` run, typically produced on other machines and fetched as CI
artefacts. OUT is a results directory like any run's (``index.json``,
``journal.jsonl`` with the records), so that ``e3suite report OUT`` prints and
renders what one run would have, and OUT can be the previous run of a later
one (``--compare OUT``, or ``-o DIR`` with OUT as ``DIR/old``).

It refuses (exit 2, naming them) a testcase present in two inputs and,
where the shards recorded the whole (``shard_whole``), a testcase of the
whole present in none, unless ``--allow-partial``. Slots are renumbered
(the second input's after the first's) so that the timeline of the HTML
report shows one lane per slot of each machine; a result carried over from
an earlier run keeps the slots of the run that ran it.

This module never changes its inputs and never decides a verdict: records
are copied, only their slot numbers change. OUT is written beside itself
and moved into place at the end, so a refused or failed merge leaves no
half-written OUT.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import e3suite.store as store
from e3suite.journal import Journal
from e3suite.reports.data import load_run, resolve_results_dir

EXIT_USAGE = 2
#: How many ids a refusal names before "... and N more".
SHOWN_IDS = 20


class MergeError(Exception):
    """The inputs cannot be merged (exit 2): overlap, missing testcases, unreadable input."""


@dataclass
class _Input:
    path: Path
    loaded: store.LoadedRun

    @property
    def shard(self) -> str | None:
        value = self.loaded.run.get("shard")
        return value if isinstance(value, str) else None

    @property
    def shards(self) -> list[str]:
        """The shards it holds: its own, or those a merge was made of (in K order)."""
        if self.shard:
            return [self.shard]
        merged = self.loaded.run.get("merged_from")
        shards: list[str] = []
        for entry in merged if isinstance(merged, list) else []:
            held = entry.get("shards", [entry.get("shard")]) if isinstance(entry, dict) else []
            if isinstance(held, list):
                shards.extend(s for s in held if isinstance(s, str))
        return sorted(shards, key=_shard_order)

    @property
    def ids(self) -> list[str]:
        return [str(e.get("test")) for e in self.loaded.entries]


def _shown(ids: list[str]) -> str:
    text = ", ".join(ids[:SHOWN_IDS])
    return text + (f" ... and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else "")


def _shard_order(shard: str) -> tuple[int, int]:
    index, _, count = shard.partition("/")
    return (int(count), int(index)) if index.isdigit() and count.isdigit() else (1 << 30, 0)


def _shard_key(item: _Input) -> tuple[int, int]:
    return _shard_order((item.shards or [""])[0])


def read_inputs(paths: list[Path]) -> list[_Input]:
    inputs: list[_Input] = []
    for path in paths:
        resolved = resolve_results_dir(path)
        try:
            loaded = load_run(resolved)
        except store.StoreError as exc:
            raise MergeError(str(exc)) from None
        if loaded.live:
            raise MergeError(f"{resolved} is still being written by a run: wait for it to end")
        if any(os.path.samefile(resolved, other.path) for other in inputs):
            raise MergeError(f"{resolved} is given twice")
        inputs.append(_Input(resolved, loaded))
    # Shards in their K order whatever the order of the arguments: the same OUT from the same shards.
    inputs.sort(key=_shard_key)
    return inputs


def check(inputs: list[_Input], allow_partial: bool) -> tuple[list[str], list[str]]:
    """(warnings, missing ids); raises MergeError for an overlap, or missing ids without ``allow_partial``."""
    where: dict[str, list[Path]] = {}
    for item in inputs:
        for test in item.ids:
            where.setdefault(test, []).append(item.path)
    splits = {item.loaded.run.get("shard_split") for item in inputs if item.shard}
    unlike = (
        "the shards were not split alike (different testcases or --shard-history): "
        "give every machine the same --shard-history FILE"
    )
    twice = sorted(t for t, paths in where.items() if len(paths) > 1)
    if twice:
        named = [f"{t} (in {' and '.join(str(p) for p in where[t])})" for t in twice]
        # Shards split unlike overlap: the refusal says why, or the user only sees ids twice.
        raise MergeError(
            f"{len(twice)} testcase{'s' if len(twice) > 1 else ''} in more than one results directory: "
            f"{_shown(named)}" + (f"; {unlike}" if len(splits) > 1 else "")
        )
    warnings = [unlike] if len(splits) > 1 else []
    whole: dict[str, None] = {}
    for item in inputs:
        recorded = item.loaded.run.get("shard_whole")
        if isinstance(recorded, list):
            whole.update(dict.fromkeys(str(t) for t in recorded))
    missing = [t for t in whole if t not in where]
    if missing:
        present = sorted(shard for i in inputs for shard in i.shards)
        counts = {shard.partition("/")[2] for shard in present}
        hint = ""
        if len(counts) == 1 and (total_text := counts.pop()).isdigit():
            total = int(total_text)
            absent = [f"{k}/{total}" for k in range(1, total + 1) if f"{k}/{total}" not in present]
            if absent:
                hint = f" (shard{'s' if len(absent) > 1 else ''} {', '.join(absent)} not given)"
        text = f"{len(missing)} testcase{'s' if len(missing) > 1 else ''} of the whole run missing{hint}: "
        if not allow_partial:
            raise MergeError(text + _shown(missing) + " (--allow-partial merges what is there)")
        warnings.append(text + _shown(missing))
    return warnings, missing


def merged_run(inputs: list[_Input], missing: list[str], argv: list[str]) -> dict[str, Any]:
    """The run metadata of OUT: one run that ran on all the shards' machines."""
    runs = [item.loaded.run for item in inputs]

    def distinct(key: str) -> list[Any]:
        return list(dict.fromkeys(r.get(key) for r in runs if r.get(key) is not None))

    starts = [r["start"] for r in runs if isinstance(r.get("start"), (int, float))]
    ends = [r["end"] for r in runs if isinstance(r.get("end"), (int, float))]
    selection: list[str] = []
    for run in runs:
        for item in run.get("selection") or []:
            # A merge's own "--merge-partial" is not inherited: what is missing now is counted below.
            if not str(item).startswith(("--shard=", "--merge-partial=")) and item not in selection:
                selection.append(str(item))
    if missing:
        selection.append(f"--merge-partial={len(missing)} missing")
    whole: dict[str, None] = {}
    for run in runs:
        if isinstance(run.get("shard_whole"), list):
            whole.update(dict.fromkeys(str(t) for t in run["shard_whole"]))
    first = runs[0] if runs else {}
    info: dict[str, Any] = {
        "start": min(starts) if starts else None,
        "version": ", ".join(map(str, distinct("version"))) or None,
        "argv": argv,
        "cwd": first.get("cwd"),
        "host": ", ".join(map(str, distinct("host"))) or None,
        "python": ", ".join(map(str, distinct("python"))) or None,
        "jobs": sum(int(r["jobs"]) for r in runs if isinstance(r.get("jobs"), int)) or None,
        "tests_dir": first.get("tests_dir"),
        # Partial when a shard's selection was, or when testcases are missing (reports/compare.py).
        "selection": selection,
        "flaky_result": "fail" if any(r.get("flaky_result") == "fail" for r in runs) else "pass",
        "merged_from": [
            {
                "path": str(item.path),
                "shard": item.shard,
                "shards": item.shards,  # a merge's: those it was made of
                "host": item.loaded.run.get("host"),
                "testcases": len(item.loaded.entries),
                "complete": item.loaded.complete,
            }
            for item in inputs
        ],
    }
    if whole:
        # Kept, so that merging a partial merge with the missing shard later checks the whole again.
        info["shard_whole"] = list(whole)
    # A shard killed mid-run did not end: neither did the run they make together (no run_ended,
    # so that its report says the run did not finish, not that an index was lost).
    if ends and len(ends) == len(runs):
        info["end"] = max(ends)
        if starts:
            info["duration"] = round(info["end"] - info["start"], 6)
    info["interrupted"] = any(bool(r.get("interrupted")) for r in runs)
    return info


def _record(item: _Input, entry: dict[str, Any], slot_offset: int) -> str | None:
    """The record of ``entry`` as JSON, its fragments' slots moved by ``slot_offset``; None without one.

    A result carried over (``--failed``) keeps its slots: they are those of
    the earlier run that ran it (the shard's own, or a merge restored as its
    previous run, whose slots are renumbered already), not of this input's
    machine in this run; the timeline leaves it out. Moved, a carried-over
    result of a merge restored on every machine was moved twice, onto slots
    beyond the merged run's.

    An unreadable record is None too: the entry keeps its ``record``, and
    the merged run reports it unreadable, as the shard's did.
    """
    try:
        document = store.record_document(item.loaded, entry)
    except (OSError, ValueError):
        return None
    if document is None:
        return None
    if slot_offset and not (isinstance(document, dict) and document.get("carried_over")):
        try:
            for fragment in document.get("fragments") or []:
                if isinstance(fragment.get("slot"), int):
                    fragment["slot"] += slot_offset
        except (AttributeError, TypeError):
            pass  # not a record's shape: TestResult.from_json says so when it is read
    return json.dumps(document, separators=(",", ":"))


def write_merged(inputs: list[_Input], out: Path, run: dict[str, Any]) -> int:
    """Build OUT beside itself, then move it into place; the number of testcases."""
    out = Path(os.path.abspath(out))
    staging = out.with_name(f".{out.name}.merging-{os.getpid()}")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        entries = []
        records: list[str | None] = []
        slot_offset = 0
        for item in inputs:
            for entry in item.loaded.entries:
                entry = dict(entry)
                data = _record(item, entry, slot_offset)
                if data is not None:
                    entry["record"] = store.IN_JOURNAL
                entries.append(entry)
                records.append(data)
            jobs = item.loaded.run.get("jobs")
            slot_offset += jobs if isinstance(jobs, int) and jobs > 0 else 1
        journal = Journal(staging / store.JOURNAL)
        journal.write("run_started", **{k: v for k, v in run.items() if k not in ("end", "duration", "interrupted")})
        for entry, data in zip(entries, records, strict=True):
            journal.write_with("test_result", entry, {"result": data} if data is not None else None)
        if "end" in run:
            journal.write("run_ended", end=run["end"], duration=run.get("duration"), interrupted=run["interrupted"])
        journal.close()
        if journal.error is not None:
            raise OSError(journal.error)
        # An input rebuilt from its journal (a killed shard) stays so: no index claims it finished.
        if all(item.loaded.complete for item in inputs):
            store.write_index(staging, run, entries)
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return len(entries)


def _replace(staging: Path, out: Path) -> None:
    if os.path.lexists(out):
        if not out.is_dir() or out.is_symlink():
            raise MergeError(f"-o {out}: exists and is not a directory")
        names = set(os.listdir(out))
        if names and not names & {store.INDEX, store.JOURNAL}:
            raise MergeError(f"-o {out}: exists and is not a results directory: not replaced")
        trash = out.with_name(f".{out.name}.replaced-{os.getpid()}")
        out.rename(trash)
        staging.rename(out)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(out)


# -- the subcommand ------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="DIR", help="results directories of disjoint testcases (shards)")
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT",
        help="the merged results directory (itself, not OUT/new); a previous merge there is replaced",
    )
    parser.add_argument(
        "--allow-partial", action="store_true",
        help="merge even when testcases of the whole run are in no input (a shard failed to produce results)",
    )


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    try:
        inputs = read_inputs([Path(p) for p in args.inputs])
        for item in inputs:
            if os.path.abspath(item.path) == os.path.abspath(out):
                raise MergeError(f"-o {out} is one of the inputs")
        warnings, missing = check(inputs, args.allow_partial)
        for warning in warnings:
            print(f"e3suite merge: warning: {warning}", file=sys.stderr)
        argv = ["e3suite", "merge", *args.inputs, "-o", args.output]
        argv += ["--allow-partial"] if args.allow_partial else []
        count = write_merged(inputs, out, merged_run(inputs, missing, argv))
    except MergeError as exc:
        print(f"e3suite merge: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"e3suite merge: error: cannot write {out}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    shards = ", ".join(item.shard or str(item.path) for item in inputs)
    testcases = "1 testcase" if count == 1 else f"{count} testcases"
    directories = "1 results directory" if len(inputs) == 1 else f"{len(inputs)} results directories"
    print(f"e3suite merge: {testcases} from {directories} ({shards}) in {out}")
    return 0

