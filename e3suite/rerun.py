"""``--failed``: which testcases of the last run are run again, and what is carried over.

A testcase is run again when the last run did not see it pass: it ended
FAIL, ERROR or FLAKY, a failed dependency kept it from running (SKIP
"dependency ..."), or it was never run because the run stopped (SKIP
"not run: ...": an interruption, a failure limit, a time limit, a results
directory that could not be written), or the last run does not have it.
The others keep their result, carried over into the new run's directory.
This module reads results directories and decides nothing else: the
Testsuite emits what it carries over.
"""

from __future__ import annotations

from pathlib import Path

import e3suite.matrix as matrix
import e3suite.store as store
from e3suite.model import NOT_RUN_PREFIX, TestResult, TestStatus

_RERUN = {TestStatus.FAIL.value, TestStatus.ERROR.value, TestStatus.FLAKY.value}


def to_run_again(last: Path) -> set[str]:
    """The ids of ``last`` (a results directory) that ``--failed`` runs again; StoreError when it is none."""
    return last_run_ids(last)[0]


def last_run_ids(last: Path) -> tuple[set[str], set[str] | None]:
    """(the ids ``--failed`` runs again, every id ``last`` has); StoreError when it is no results directory.

    A testcase ``last`` does not have at all (added since, or moved into a
    shard's part by a new split) was not seen passing either: it is run,
    or the new run's directory would hold neither a result nor a carried
    one for it, and a merge of the shards would miss it. Unless ``last``
    ran a selection (positional arguments: then None): what it did not
    select was out of its scope, and ``--failed`` after ``testsuite.py a/b``
    reruns what failed in ``a/b``, not the rest of the testsuite.
    """
    run = store.load_run(last)
    again = {str(entry.get("test")) for entry in run.entries if _run_again(entry)}
    selection = run.run.get("selection")
    # Options recorded there (--shard=K/N, --failed, --merge-partial=...) are no choice of testcases.
    if isinstance(selection, list) and any(not str(item).startswith("--") for item in selection):
        return again, None
    return again, {str(entry.get("test")) for entry in run.entries}


def _run_again(entry: dict[str, object]) -> bool:
    status, message = entry.get("status"), str(entry.get("message") or "")
    if status in _RERUN:
        return True
    # SKIP "not run: ..." says the run stopped before it (whatever stopped it: --max-time too): its chance now.
    return status == TestStatus.SKIP.value and message.startswith(("dependency ", NOT_RUN_PREFIX))


def carried_over(
    previous: Path, ran: set[str], part: set[str] | None, discovered: set[str] | None = None
) -> list[TestResult]:
    """The results of ``previous`` that are not run again (within ``part``, a shard's), marked carried over.

    A testcase in ``ran`` reports its sub-results (``<id>/<name>``) again
    itself: its old ones are not carried either. With ``discovered`` (the
    testcase directories' ids of this run), a result whose testcase
    directory is gone is not carried: it would pass, carried over run
    after run, a testcase that no longer exists.
    """
    try:
        run = store.load_run(previous)
    except (store.StoreError, OSError):
        return []
    carried = []
    for entry in run.entries:
        test = str(entry.get("test"))
        if test in ran or _sub_result_of(test, ran) or (part is not None and test not in part):
            continue
        if discovered is not None and not _in_directories(test, discovered):
            continue
        result = store.load_record(run, entry)
        result.carried_over = True
        carried.append(result)
    return carried


def _sub_result_of(test: str, ran: set[str]) -> bool:
    """Whether ``test`` is a sub-result id of a testcase of ``ran``: ``a/b/check`` of ``a/b``."""
    cut = test.rfind("/")
    while cut > 0:
        if test[:cut] in ran:
            return True
        cut = test.rfind("/", 0, cut)
    return False


def _in_directories(test: str, dir_ids: set[str]) -> bool:
    """Whether ``test`` belongs to one of ``dir_ids``: it is one, a variant of one (``a[x=1]``), or a sub-result."""
    owner = test
    while True:
        split = matrix.split_variant_id(owner)
        if owner in dir_ids or (split is not None and split[0] in dir_ids):
            return True
        if "/" not in owner:
            return False
        owner = owner.rsplit("/", 1)[0]
