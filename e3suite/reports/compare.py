"""Compare a run with a previous one: what changed, by category.

A comparison is computed from two lists of (id, verdict, duration) only, so
it works the same on a live run (results in memory) and on results
directories read back later. The categories are disjoint per testcase,
except ``slower`` which may also hold a testcase of another category:

- ``new_failures``: FAIL/ERROR now, present before and not failing then
  (or without a verdict of its own then: see ``no_verdict_then``);
- ``still_failing``: FAIL/ERROR now and before;
- ``flaky``: FLAKY now (it failed, then passed when tried again), present
  before;
- ``fixed``: failing before, passing now (PASS, XFAIL, XPASS, VERIFY);
- ``newly_skipped``: SKIP/NOT_APPLICABLE now, present before, run and not skipped;
- ``new``: not in the previous run (whatever its verdict now), unless the
  previous run ran a selection of the testcases;
- ``removed``: in the previous run, not in this one (unless this run ran a
  selection of the testcases);
- ``slower``: at least ``threshold`` times slower than before, and slower by
  at least ``MIN_SLOWDOWN_SECONDS`` (short tests are noisy).

A testcase of the new run without a verdict of its own (a run killed before
it finished it, or still going) is in no category.

This module never reads files and never prints: it computes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from e3suite.model import NOT_RUN_PREFIX, TestStatus

#: Default ratio new/old duration above which a testcase is "markedly slower".
DEFAULT_SLOWDOWN_THRESHOLD = 2.0
#: A slowdown smaller than this many seconds is never reported: a 10 ms test
#: that takes 30 ms is scheduling noise, not a regression.
MIN_SLOWDOWN_SECONDS = 0.5

#: How the store words the ERROR of a testcase whose run gave it no verdict of its own: killed before it
#: finished, or its journal line lost (e3suite.store.rebuild_from_journal).
NO_VERDICT_PREFIX = "no verdict: "

#: Categories in the order a reader should see them (most urgent first).
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("new_failures", "new failures"),
    ("still_failing", "still failing"),
    ("flaky", "flaky"),
    ("fixed", "fixed"),
    ("newly_skipped", "newly skipped"),
    ("new", "new testcases"),
    ("removed", "removed testcases"),
    ("slower", "markedly slower"),
)


@dataclass(frozen=True)
class Outcome:
    """What the comparison needs to know about one testcase of one run."""

    test_id: str
    status: TestStatus
    duration: float | None = None
    message: str = ""
    #: No verdict yet: a testcase of a run still going, running or waiting (its status is a placeholder).
    pending: bool = False


@dataclass(frozen=True)
class Change:
    """One testcase in one category: its verdict and duration now and before."""

    test_id: str
    status: TestStatus | None  # None: removed
    old_status: TestStatus | None  # None: new, or no verdict then (see no_verdict_then)
    message: str = ""
    duration: float | None = None
    old_duration: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.test_id,
            "status": self.status.value if self.status else None,
            "old_status": self.old_status.value if self.old_status else None,
            "message": self.message,
            "duration": self.duration,
            "old_duration": self.old_duration,
        }


@dataclass
class Comparison:
    """The differences between a run and the previous one."""

    old_dir: str
    threshold: float
    old_count: int
    new_failures: list[Change] = field(default_factory=list)
    still_failing: list[Change] = field(default_factory=list)
    flaky: list[Change] = field(default_factory=list)
    fixed: list[Change] = field(default_factory=list)
    newly_skipped: list[Change] = field(default_factory=list)
    new: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    slower: list[Change] = field(default_factory=list)

    def category(self, name: str) -> list[Change]:
        changes: list[Change] = getattr(self, name)
        return changes

    @property
    def changed(self) -> bool:
        """True when something other than "still failing" happened."""
        return any(self.category(name) for name, _ in CATEGORIES if name != "still_failing")

    def counts(self) -> dict[str, int]:
        return {name: len(self.category(name)) for name, _ in CATEGORIES}

    def change_of(self) -> dict[str, str]:
        """Test id -> its (first) category name, for per-testcase annotations."""
        result: dict[str, str] = {}
        for name, _ in CATEGORIES:
            for change in self.category(name):
                result.setdefault(change.test_id, name)
        return result

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "old_dir": self.old_dir,
            "old_count": self.old_count,
            "slowdown_threshold": self.threshold,
            "min_slowdown_seconds": MIN_SLOWDOWN_SECONDS,
        }
        for name, _ in CATEGORIES:
            document[name] = [c.to_json() for c in self.category(name)]
        return document


def compare(
    new: Iterable[Outcome],
    old: Iterable[Outcome],
    old_dir: str,
    threshold: float = DEFAULT_SLOWDOWN_THRESHOLD,
    partial: bool = False,
    old_partial: bool = False,
    unfinished: Iterable[str] = (),
) -> Comparison:
    """Classify every testcase of ``new`` and ``old``; lists are sorted by id.

    ``partial``: ``new`` is a selection of the testcases, so the ones it lacks
    were not run rather than removed, and ``removed`` stays empty.
    ``old_partial``: likewise, ``old`` was a selection, so a testcase it lacks
    is not new, and ``new`` stays empty.
    ``unfinished``: testcases of a run still going that have no verdict yet:
    in no category (they are not removed either).
    """
    old_by_id = {o.test_id: o for o in old}
    comparison = Comparison(old_dir=old_dir, threshold=threshold, old_count=len(old_by_id))
    seen: set[str] = set(unfinished)
    for now in new:
        seen.add(now.test_id)
        before = old_by_id.get(now.test_id)
        change = Change(
            now.test_id,
            now.status,
            # Its ERROR then was no verdict: "(was ERROR)" beside a new failure would say it failed
            # (a SKIP "not run: ..." then says what it was: "(was SKIP)").
            before.status if before and not (no_verdict_then(before) and before.status.is_failure) else None,
            now.message,
            now.duration,
            before.duration if before else None,
        )
        if before is None:
            if not old_partial:
                comparison.new.append(change)
            continue
        if now.status is TestStatus.ERROR and now.message.startswith(NO_VERDICT_PREFIX):
            # This run was killed before it finished this testcase: nothing of it to compare (as for a run
            # still going). Compared, every testcase a CI timeout cut off was a "new failure", which
            # buried the real ones; the summary lists them under failures all the same.
            continue
        # Not run then (the previous run was killed or stopped first): its ERROR says nothing of the testcase.
        failed_before = before.status.is_failure and not no_verdict_then(before)
        if now.status is TestStatus.FLAKY:
            comparison.flaky.append(change)
        elif now.status.is_failure:
            (comparison.still_failing if failed_before else comparison.new_failures).append(change)
        elif failed_before and now.status.is_pass:
            comparison.fixed.append(change)
        elif now.status.is_skip and not before.status.is_skip and not no_verdict_then(before):
            comparison.newly_skipped.append(change)
        # A testcase skipped then (not run: interrupted, say) or now did not run: its 0 s compares with nothing.
        ran_both = not now.status.is_skip and not before.status.is_skip
        if ran_both and _markedly_slower(now.duration, before.duration, threshold):
            comparison.slower.append(change)
    comparison.removed = [
        Change(o.test_id, None, None if o.pending else o.status, o.message, None, o.duration)
        for test_id, o in old_by_id.items()
        if test_id not in seen and not partial
    ]
    # Sorted by id, so that the same two runs always read the same; but the
    # worst slowdowns first: that is what a reader acts on.
    for name, _ in CATEGORIES:
        comparison.category(name).sort(key=lambda c: c.test_id)
    comparison.slower.sort(key=lambda c: -((c.duration or 0.0) / max(c.old_duration or 0.0, 1e-9)))
    return comparison


def no_verdict_then(outcome: Outcome) -> bool:
    """Whether the previous run gave ``outcome`` no verdict of its own: it stopped before it ran or finished it.

    A run killed by a CI timeout leaves every testcase it had not finished an
    ERROR "no verdict: the run ended before this testcase finished" (and one
    stopped by ``--max-failures`` an ERROR "not run: ..."): compared as
    failures, a regression of the next run read as "still failing", out of
    the news, and every testcase that merely ran at last as "fixed". A
    previous run still going has testcases without a verdict yet, too.
    """
    return outcome.pending or (
        outcome.status in (TestStatus.ERROR, TestStatus.SKIP)
        and outcome.message.startswith((NO_VERDICT_PREFIX, NOT_RUN_PREFIX))
    )


def _markedly_slower(now: float | None, before: float | None, threshold: float) -> bool:
    if now is None or before is None:
        return False
    return now - before >= MIN_SLOWDOWN_SECONDS and now >= before * threshold


def outcomes_from_entries(entries: Iterable[dict[str, Any]]) -> list[Outcome]:
    """Outcomes from index entries of a results directory (see e3suite.store)."""
    outcomes = []
    for entry in entries:
        # A run still going (--compare with it): running or waiting testcases have no verdict yet, no ERROR.
        pending = bool(entry.get("live"))
        try:
            status = TestStatus(entry.get("status"))
        except ValueError:
            status = TestStatus.ERROR
        duration = entry.get("duration")
        outcomes.append(
            Outcome(
                str(entry.get("test")),
                status,
                float(duration) if isinstance(duration, (int, float)) else None,
                str(entry.get("message") or ""),
                pending,
            )
        )
    return outcomes
