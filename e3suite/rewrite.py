"""Baseline rewriting: the end-of-run ``--rewrite`` summary and ``e3suite rewrite``.

During a run, DiffDriver rewrites the baselines of DIFF failures itself
(``--rewrite``) and notes what it did in ``result.info["rewrite"]``; a
matrix variant's baseline, which the other variants share, is left
``pending`` to the end of the run, when this module writes it (once, and
not at all when the variants disagree). This module then turns the notes
into the summary printed at the end ("N updated, N created, N deleted",
then the list).

``e3suite rewrite RESULTS_DIR`` does the same after the fact, from the
refined output that DiffDriver stored in each DIFF failure's record
(``result.out``, ``result.info["baseline"]``); ``--dry-run`` prints the
diffs it would apply and changes nothing. Failures other than DIFF, and
regexp baselines, are never touched.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import e3suite.drivers.baseline as baseline
import e3suite.matrix as matrix
import e3suite.store as store
from e3suite.drivers.diff import unified_diff
from e3suite.model import FailureReason, TestResult, TestStatus
from e3suite.reports.data import load_run, resolve_results_dir

_ORDER = (baseline.RewriteAction.UPDATED, baseline.RewriteAction.CREATED, baseline.RewriteAction.DELETED)


def rewritten(results: Iterable[TestResult]) -> list[tuple[baseline.RewriteAction, str, str]]:
    """(action, test id, baseline path) of what a ``--rewrite`` run changed.

    The baselines left to the end of the run (matrix variants: see
    ``write_pending``) are written first.
    """
    results = list(results)
    write_pending(results)
    changes: list[tuple[baseline.RewriteAction, str, str]] = []
    for result in results:
        action = result.info.get("rewrite")
        info = baseline.BaselineInfo.from_json(result.info.get("baseline"))
        if action is None or info is None:
            continue
        try:
            kind = baseline.RewriteAction(action)
        except ValueError:
            continue
        if kind is not baseline.RewriteAction.UNCHANGED:
            changes.append((kind, result.test_id, info.path))
    return changes


def write_pending(results: list[TestResult]) -> None:
    """Write the baselines DiffDriver left to the end of the run (``info["rewrite"] == PENDING``).

    The variants of a matrix share their baseline: written as each one
    finished, it would have been what the others compared with. Now that
    all have compared with the baseline as it was, each baseline is written
    once, from the first variant that wants it (the others then find it
    unchanged), and not at all when the variants disagree (``conflicts``):
    as ``e3suite rewrite`` does. What was done replaces PENDING in each
    result; a baseline that cannot be written is noted in
    ``info["rewrite_error"]`` for ``print_conflicts``.
    """
    pending = [r for r in results if r.info.get("rewrite") == baseline.PENDING]
    if not pending:
        return
    conflicting = conflicts(results)
    for result in sorted(pending, key=lambda r: r.test_id):
        info = baseline.BaselineInfo.from_json(result.info.get("baseline"))
        action = baseline.RewriteAction.UNCHANGED
        if info is not None and result.out is not None and info.path not in conflicting:
            try:
                action = baseline.rewrite(info, result.out)
            except baseline.BaselineError as exc:
                result.info["rewrite_error"] = str(exc)
        result.info["rewrite"] = action.value


def print_summary(
    changes: list[tuple[baseline.RewriteAction, str, str]], stream: TextIO, dry_run: bool = False
) -> None:
    """``baselines: 1 updated, 1 created, 0 deleted`` then one line per change."""
    counts = {kind: sum(1 for k, _, _ in changes if k is kind) for kind in _ORDER}
    head = "baselines that would change" if dry_run else "baselines"
    stream.write(f"e3suite: {head}: " + ", ".join(f"{n} {kind.value}" for kind, n in counts.items()) + "\n")
    for kind, test_id, path in sorted(changes, key=lambda c: (_ORDER.index(c[0]), c[1])):
        stream.write(f"  {kind.value:<8} {test_id}: {_relative(path)}\n")


def conflicts(results: Iterable[TestResult]) -> dict[str, list[str]]:
    """Baselines that testcases would rewrite with different outputs: path -> their ids.

    Matrix variants share their directory's baseline: when their refined
    outputs differ, no content makes them all pass, and writing each in
    turn leaves whichever came last (an accident of scheduling). A variant
    whose output matched the baseline wants it too: writing a failing
    variant's output there would make it fail next time, unannounced.
    """
    wanted: dict[str, dict[str, list[str]]] = {}
    to_write: set[str] = set()
    for result in results:
        if result.out is None or result.status is TestStatus.XFAIL:  # an expected failure wants no baseline
            continue
        if baseline.NOT_REWRITABLE in result.info:  # nor does a command that failed (its exit status)
            continue
        info = baseline.BaselineInfo.from_json(result.info.get("baseline"))
        if info is None or info.regexp:
            continue
        # A record with a baseline and no DIFF reason compared equal to it (DiffDriver).
        if FailureReason.DIFF in result.failure_reasons:
            to_write.add(info.path)
        wanted.setdefault(info.path, {}).setdefault(result.out, []).append(result.test_id)
    return {
        path: sorted(test_id for ids in outputs.values() for test_id in ids)
        for path, outputs in sorted(wanted.items())
        if len(outputs) > 1 and path in to_write
    }


def conflict_message(path: str, test_ids: list[str]) -> str:
    return (
        f"{_relative(path)}: {', '.join(test_ids)} give different outputs for this one baseline; "
        "refine their outputs (refiners) so that they agree"
    )


def print_conflicts(results: Iterable[TestResult], stream: TextIO) -> None:
    """After a ``--rewrite`` run: the baselines its variants disagree on, and those it could not write."""
    results = list(results)
    written = {kind.value for kind in _ORDER}
    for path, test_ids in conflicts(results).items():
        # Only an output too long to be kept whole for the end of the run was written as it came.
        held = any(r.info.get("rewrite") in written and _baseline_path(r) == path for r in results)
        outcome = ": it now holds one of them" if held else "; not written"
        stream.write(f"e3suite: warning: {conflict_message(path, test_ids)}{outcome}\n")
    for result in results:
        if "rewrite_error" in result.info:
            stream.write(f"e3suite: error: {result.test_id}: {result.info['rewrite_error']}\n")


def _baseline_path(result: TestResult) -> str | None:
    info = baseline.BaselineInfo.from_json(result.info.get("baseline"))
    return info.path if info is not None else None


def relocate(
    info: baseline.BaselineInfo, test_id: str, tests_dir: Path | None
) -> baseline.BaselineInfo:
    """``info`` moved below ``tests_dir``, for results made elsewhere (another machine, a moved checkout).

    A record names its baseline by absolute path, inside the testcase's
    directory; the same relative path below this ``tests_dir``'s directory
    of the testcase is meant. None, or a record without its test
    directory: unchanged.
    """
    if tests_dir is None or not info.test_dir:
        return info
    try:
        inside = Path(info.path).relative_to(info.test_dir)
    except ValueError:
        return info  # outside its test directory: check_rewritable refuses it
    split = matrix.split_variant_id(test_id)
    test_dir = tests_dir.absolute() / (split[0] if split is not None else test_id)
    return replace(info, path=str(test_dir / inside), test_dir=str(test_dir))


def default_tests_dir(run: dict[str, Any]) -> Path | None:
    """Where the run's tests directory is now: where it was, else at the same place from here.

    A run records its ``cwd`` and ``tests_dir``; results fetched from a CI
    machine are rewritten from the root of a checkout: the tests directory is
    then at the same relative place from the current directory.
    """
    recorded, cwd = run.get("tests_dir"), run.get("cwd")
    if not isinstance(recorded, str) or Path(recorded).is_dir():
        return None
    if isinstance(cwd, str):
        here = Path(os.path.relpath(recorded, cwd))
        if here.is_dir():
            return here
    return None


def rewrite_from_results(
    results: Iterable[TestResult], dry_run: bool, stream: TextIO, tests_dir: Path | None = None
) -> tuple[list[tuple[baseline.RewriteAction, str, str]], list[str]]:
    """Apply (or show) the baseline changes recorded in ``results``.

    Returns the changes and the problems (a baseline that cannot be written).
    ``tests_dir``: the baselines are below it, not where the records say
    (see ``relocate``).
    """
    changes: list[tuple[baseline.RewriteAction, str, str]] = []
    results = list(results)
    conflicting = conflicts(results)
    # A dry run writes nothing: a baseline that matrix variants share (and agree
    # on: no conflict) would be shown once per variant, where the real run writes
    # it once and finds it unchanged for the others.
    planned: set[str] = set()
    problems = [conflict_message(path, ids) + "; not written" for path, ids in conflicting.items()]
    for result in results:
        if FailureReason.DIFF not in result.failure_reasons or result.out is None:
            continue
        if result.status is TestStatus.XFAIL or baseline.NOT_REWRITABLE in result.info:
            continue  # the failure was expected, or the command failed: its output is not the baseline
        info = baseline.BaselineInfo.from_json(result.info.get("baseline"))
        if info is None or info.regexp or info.path in conflicting:
            continue
        info = relocate(info, result.test_id, tests_dir)
        if info.test_dir and not Path(info.test_dir).is_dir():
            problems.append(
                f"{result.test_id}: its test directory {info.test_dir} is not here (results made elsewhere?): "
                "run from the testsuite's directory or give --tests-dir"
            )
            continue
        try:
            baseline.check_rewritable(info)
            if result.info.get("out_truncated"):
                raise baseline.BaselineError(
                    f"the record keeps only part of the {result.info['out_truncated']}-character output: "
                    "rewrite this baseline with ./testsuite.py --rewrite"
                )
        except baseline.BaselineError as exc:
            problems.append(f"{result.test_id}: {exc}")  # a dry run says so too: the real one would refuse
            continue
        action = baseline.planned_action(info, result.out)
        if action is baseline.RewriteAction.UNCHANGED or info.path in planned:
            continue
        planned.add(info.path)
        if dry_run:
            current = _current_text(Path(info.path))
            new = "" if action is baseline.RewriteAction.DELETED else result.out
            diff = unified_diff(current, new).replace("--- expected", f"--- {_relative(info.path)}", 1)
            diff = diff.replace("+++ actual", f"+++ {_relative(info.path)} ({action.value})", 1)
            stream.write(diff if diff else f"{_relative(info.path)}: {action.value} (empty)\n")
        else:
            try:
                action = baseline.rewrite(info, result.out)
            except baseline.BaselineError as exc:
                problems.append(f"{result.test_id}: {exc}")
                continue
        changes.append((action, result.test_id, info.path))
    return changes, problems


def _current_text(path: Path) -> str:
    try:
        return baseline.read_baseline(path) or ""
    except baseline.BaselineError:
        return ""


def _relative(path: str) -> str:
    """Paths below the current directory are shown relative to it."""
    try:
        return Path(path).relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path


# -- the subcommand ------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", metavar="RESULTS_DIR", help="a results directory (out/new), or its parent")
    parser.add_argument("--dry-run", action="store_true", help="print the changes as diffs; write nothing")
    parser.add_argument(
        "--tests-dir", metavar="DIR", default=None,
        help="the testsuite's tests directory, when the results were made elsewhere "
        "(default: where the run had it, else at the same place from the current directory)",
    )


def run(args: argparse.Namespace) -> int:
    path = resolve_results_dir(Path(args.results_dir))  # `out` means `out/new`, as for `e3suite report`
    try:
        loaded = load_run(path)
    except store.StoreError as exc:
        print(f"e3suite rewrite: error: {exc}", file=sys.stderr)
        return 2
    results = [store.load_record(loaded, entry) for entry in loaded.entries]
    tests_dir = Path(args.tests_dir) if args.tests_dir else default_tests_dir(loaded.run)
    changes, problems = rewrite_from_results(results, args.dry_run, sys.stdout, tests_dir)
    print_summary(changes, sys.stdout, dry_run=args.dry_run)
    for problem in problems:
        print(f"e3suite rewrite: error: {problem}", file=sys.stderr)
    return 1 if problems else 0
