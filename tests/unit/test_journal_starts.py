"""The journal tells when fragments really ran, and callbacks cannot upset their worker.

With queue-ahead, a worker holds the next fragment while it runs one: that
fragment has not started, and the journal must not say it has.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from test_interrupt_run import finish, make_suite, mark, start

WORKER_STATE_SUITE = '''
import os
import sys

from e3suite import FragmentContext, TestDriver, Testsuite, TestStatus


class StateDriver(TestDriver):
    def add_fragments(self):
        self.add_fragment("run", self.run)

    def run(self, ctx: FragmentContext):
        if self.test_env.get("interrupt"):
            raise KeyboardInterrupt
        seen = (oct(os.umask(0o077)), "/nowhere" in sys.path, os.environ.get("LEFTOVER"))
        sys.path.append("/nowhere")
        os.environ["LEFTOVER"] = "1"
        ok = seen == ("0o22", False, None)
        ctx.result.set_status(TestStatus.PASS if ok else TestStatus.FAIL, repr(seen))


class Suite(Testsuite):
    test_driver_map = {"state": StateDriver}
    default_driver = "state"


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(Suite().main())
'''


def journal(root: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (root / "out" / "new" / "journal.jsonl").read_text().splitlines()]


def test_fragment_started_is_journaled_when_the_fragment_starts(tmp_path: Path) -> None:
    text = mark()
    make_suite(tmp_path, {f"t{i}": {"cmd": "sleep 0.6"} for i in range(6)})
    code, out = finish(start(tmp_path, "-j2", "--progress", "none"), text)
    assert code == 0, out
    events = journal(tmp_path)
    running = 0
    most = 0
    ended: dict[str, dict[str, object]] = {e["fragment"]: e for e in events if e["event"] == "fragment_ended"}  # type: ignore[misc]
    for event in events:
        if event["event"] == "fragment_started":
            running += 1
            most = max(most, running)
            end = ended[str(event["fragment"])]
            # Its real start: the one its record holds, never before it was free to run.
            assert abs(float(event["time"]) - float(end["start"])) < 0.25  # type: ignore[arg-type]
            assert event["slot"] == end["slot"]
        elif event["event"] == "fragment_ended":
            running -= 1
    assert most <= 2
    # On each slot, one fragment after the other.
    by_slot: dict[object, list[tuple[float, float]]] = {}
    for end in ended.values():
        by_slot.setdefault(end["slot"], []).append((float(end["start"]), float(end["end"])))  # type: ignore[arg-type]
    for spans in by_slot.values():
        spans.sort()
        assert all(a_end <= b_start + 0.001 for (_, a_end), (b_start, _) in itertools.pairwise(spans))


def test_a_fragment_never_sees_what_the_one_before_changed_in_its_worker(tmp_path: Path) -> None:
    text = mark()
    make_suite(tmp_path, {f"t{i}": {} for i in range(4)})
    (tmp_path / "testsuite.py").write_text(WORKER_STATE_SUITE)
    code, out = finish(start(tmp_path, "-j1", "--progress", "none"), text)
    assert code == 0, out
    assert out.count("PASS ") == 4, out


def test_a_callback_raising_keyboardinterrupt_in_a_worker_is_its_error(tmp_path: Path) -> None:
    text = mark()
    make_suite(tmp_path, {"boom": {"interrupt": True}, "fine": {}})
    (tmp_path / "testsuite.py").write_text(WORKER_STATE_SUITE)
    code, out = finish(start(tmp_path, "-j2", "--progress", "none"), text)
    assert code == 1, out
    assert "ERROR  boom: boom:run raised KeyboardInterrupt" in out
    assert "Process e3suite-worker" not in out
    assert "PASS   fine" in out
