"""Propagation: what a fragment's end releases, and the skips a failure spreads.

A mixin of ``e3suite.engine.Engine`` (it works on the engine's state, as
``e3suite.retries.Retries`` does). When a fragment ends, each dependant
either loses one predecessor to wait for (and becomes ready at none), or,
when the fragment failed and the dependant is no ``when="always"`` one, is
skipped with the reason, and its own dependants after it, transitively. A
dependant in another testcase is skipped only after the failing testcase
got its verdict, so that reports tell the cause before its consequences.
"""

from __future__ import annotations

from e3suite.model import FragmentRecord, FragmentState
from e3suite.plan import Fragment, Plan
from e3suite.testcase_state import TestcaseState

_FAILURE_WORDS = {
    FragmentState.FAILED: "failed",
    FragmentState.TIMEDOUT: "timed out",
    FragmentState.ABORTED: "was interrupted",
    FragmentState.SKIPPED: "was skipped",
}


class Propagation:
    """The release-and-skip half of the engine; the attributes and methods below are the engine's."""

    plan: Plan
    states: list[FragmentState]
    indegree: list[int]
    tests: dict[str, TestcaseState]
    #: dependants in other testcases skipped by a failure, told once the
    #: failing testcase has its verdict (see _release)
    _later_skips: list[tuple[int, str]]

    def _make_ready(self, index: int) -> None:
        raise NotImplementedError

    def _settle(self, test: TestcaseState) -> None:
        raise NotImplementedError

    def _release(self, fragment: Fragment, succs: list[int], success: bool) -> None:
        """``fragment`` ended (successfully or not): its dependants in ``succs`` run, wait or are skipped."""
        message: str | None = None
        for succ in succs:
            state = self.states[succ]
            if state is not FragmentState.BLOCKED:
                continue  # skipped already (another predecessor failed)
            spec = self.plan.fragments[succ].spec
            if success or (spec is not None and spec.when == "always"):
                self.indegree[succ] -= 1
                if self.indegree[succ] == 0:
                    self._make_ready(succ)
                continue
            if message is None:
                message = self._failure_message(fragment)
            if self.plan.fragments[succ].test_id != fragment.test_id:
                # After the cause's own verdict: "SKIP b: dependency a:build
                # failed" must not be printed before a's FAIL line.
                self._later_skips.append((succ, message))
            else:
                self._skip(succ, message)

    def _skip_later_ones(self) -> None:
        while self._later_skips:  # a skipped testcase may release more when it ends
            skips, self._later_skips = self._later_skips, []
            for succ, message in skips:
                self._skip(succ, message)

    def _failure_message(self, fragment: Fragment) -> str:
        state = self.states[fragment.index]
        how = _FAILURE_WORDS.get(state, "failed")
        if state is FragmentState.SKIPPED:
            cause = self.tests[fragment.test_id].state.skip_message
            if cause:
                return f"dependency {fragment.fragment_id} was skipped ({cause})"
        return f"dependency {fragment.fragment_id} {how}"

    def _skip(self, index: int, message: str) -> None:
        """Skip a fragment that cannot run, then its dependants, transitively (``when="always"`` ones run)."""
        stack = [index]
        while stack:
            index = stack.pop()
            if self.states[index] is not FragmentState.BLOCKED and self.states[index] is not FragmentState.READY:
                continue
            self.states[index] = FragmentState.SKIPPED
            dependant = self.plan.fragments[index]
            test = self.tests[dependant.test_id]
            if test.state.skip_message is None:
                test.state.skip_message = message
            test.records.append(FragmentRecord(dependant.name, FragmentState.SKIPPED, attempt=test.attempt))
            test.remaining -= 1
            for succ in dependant.succs:
                if self.states[succ] is not FragmentState.BLOCKED:
                    continue
                spec = self.plan.fragments[succ].spec
                if spec is not None and spec.when == "always":
                    self.indegree[succ] -= 1
                    if self.indegree[succ] == 0:
                        self._make_ready(succ)
                else:
                    stack.append(succ)
            if test.remaining <= 0 and not test.done and test.running == 0:
                self._settle(test)

    def _skip_dependants_of(self, test: TestcaseState, how: str) -> None:
        for index in test.planned.fragments.values():
            fragment = self.plan.fragments[index]
            for succ in fragment.succs:
                if self.states[succ] is FragmentState.BLOCKED:
                    self._skip(succ, f"dependency {fragment.fragment_id} {how}")
