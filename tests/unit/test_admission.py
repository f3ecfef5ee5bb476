"""Admission alone (pure bookkeeping), then resources, locks, weights and serial fragments in a real run at -j4."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_interrupt_run import REPO

import e3suite.store as store
from e3suite import FragmentContext, TestDriver
from e3suite.admission import BACK_TO_A_SLOT, LIGHT, Admission, CapacityError, Demand, capacities, impossible
from e3suite.driver import DriverError

GPU = Demand(resources=(("gpu", 1),))


def admitted(admission: Admission, ready: set[int] | None = None, room: int = 99) -> list[int]:
    given: list[int] = []

    def can_submit(demand: Demand, ahead: bool) -> bool:
        return len(given) < room

    for index, _ in admission.admit(lambda i: ready is None or i in ready, can_submit):
        given.append(index)
    return given


def test_priority_order_and_slots() -> None:
    admission = Admission(2, {})
    for index, priority in ((0, 1.0), (1, 3.0), (2, 2.0)):
        admission.push(index, priority)
    assert admitted(admission) == [1, 2]  # two slots, best first
    admission.release(1)
    assert admitted(admission) == [0]


def test_resource_instances_are_numbered_and_never_shared() -> None:
    admission = Admission(4, {"gpu": 2})
    for index in range(3):
        admission.push(index, 1.0, GPU)
    grants = dict(admission.admit(lambda i: True, lambda d, ahead: True))
    assert sorted(g.instances["gpu"][0] for g in grants.values()) == [0, 1]
    assert admission.waiting[2] == "gpu (1 of 2)"
    admission.release(0)
    [(index, grant)] = list(admission.admit(lambda i: True, lambda d, ahead: True))
    assert index == 2 and grant.instances == {"gpu": [grants[0].instances["gpu"][0]]}


def test_a_huge_count_costs_nothing_and_ids_stay_lowest_first() -> None:
    # --resource license=100000000000000000000: instances were all listed up
    # front (an OverflowError, or gigabytes for 10**8).
    admission = Admission(4, {"license": 10**20})
    demand = Demand(resources=(("license", 1),))
    for index in range(3):
        admission.push(index, 1.0, demand)
    grants = dict(admission.admit(lambda i: True, lambda d, ahead: True))
    assert [grants[i].instances["license"] for i in range(3)] == [[0], [1], [2]]
    admission.release(1)
    admission.push(3, 1.0, Demand(resources=(("license", 2),)))
    [(index, grant)] = list(admission.admit(lambda i: True, lambda d, ahead: True))
    assert index == 3 and grant.instances == {"license": [1, 3]}


def test_a_lock_keeps_holders_apart_and_needs_no_declaration() -> None:
    admission = Admission(4, {})
    db = Demand(locks=("database",))
    admission.push(0, 2.0, db)
    admission.push(1, 1.0, db)
    admission.push(2, 0.5)
    assert admitted(admission) == [0, 2]
    assert admission.waiting[1] == "lock database"


def test_a_heavy_fragment_is_not_starved_by_light_ones() -> None:
    admission = Admission(4, {}, lookahead=4)
    admission.push(0, 1.0)
    assert admitted(admission) == [0]  # one slot taken
    heavy = Demand(slots=4)
    admission.push(1, 5.0, heavy)
    for index in range(2, 8):
        admission.push(index, 0.1)  # a stream of light ones, lower priority
    assert admitted(admission) == []  # the heavy one waits, and holds the others back
    assert admission.waiting[1] == "4 free slots"
    admission.release(0)
    assert admitted(admission)[0] == 1


def test_more_slots_than_j_is_clamped_never_a_deadlock() -> None:
    admission = Admission(2, {})
    admission.push(0, 1.0, Demand(slots=8))
    assert admitted(admission) == [0]


def test_a_serial_fragment_runs_alone() -> None:
    admission = Admission(4, {})
    admission.push(0, 3.0)
    assert admitted(admission) == [0]
    admission.push(1, 2.0, Demand(serial=True))
    admission.push(2, 1.0)
    assert admitted(admission) == []  # waits for 0 to end; 2 may not pass it
    admission.release(0)
    assert admitted(admission) == [1]  # alone
    assert admitted(admission) == []
    admission.release(1)
    assert admitted(admission) == [2]


def test_a_resource_waiter_does_not_stop_those_needing_none() -> None:
    admission = Admission(4, {"gpu": 1})
    admission.push(0, 3.0, GPU)
    admission.push(1, 2.0, GPU)
    admission.push(2, 1.0)
    assert admitted(admission) == [0, 2]


def test_a_lock_given_as_one_string_is_one_lock(tmp_path: Path) -> None:
    # add_fragment(..., locks="database") held the locks d, a, t, b, s and e:
    # it kept apart from locks="dog" (d), and not only from "database".
    class Driver(TestDriver):
        def add_fragments(self) -> None:
            self.add_fragment("a", self.run, locks="database")
            self.add_fragment("b", self.run, locks=["database", "net"])

        def run(self, ctx: FragmentContext) -> None:
            pass

    driver = Driver("t", {}, tmp_path, tmp_path, argparse.Namespace())
    driver.add_fragments()
    assert [spec.locks for spec in driver.fragments] == [("database",), ("database", "net")]
    for number, bad in enumerate(([""], [1], ["db", None])):
        with pytest.raises(DriverError, match="lock names must be non-empty strings"):
            driver.add_fragment(f"bad{number}", driver.run, locks=bad)  # type: ignore[list-item]


def test_impossible_demands_are_named() -> None:
    assert impossible(Demand(resources=(("gpu", 3),)), {"gpu": 2}) == "needs gpu=3; the testsuite has gpu=2"
    assert impossible(Demand(resources=(("tpu", 1),)), {"gpu": 2}) == "needs tpu=1; the testsuite has gpu=2"
    assert impossible(LIGHT, {}) is None


SUITE = '''
import os
import sys
import time

from e3suite import FragmentContext, TestDriver, Testsuite, TestStatus


class Hold(TestDriver):
    def add_fragments(self):
        self.add_fragment("run", self.run, **self.test_env.get("declare", {}))

    def run(self, ctx: FragmentContext):
        start = time.time()
        env = ctx.shell("echo $E3SUITE_RESOURCE_GPU").output.strip()
        time.sleep(0.4)
        ctx.result.info.update(start=start, end=time.time(), gpu=ctx.resources.get("gpu"), env=env)
        ctx.result.set_status(TestStatus.PASS)


class Suite(Testsuite):
    test_driver_map = {"hold": Hold}
    default_driver = "hold"
    resources = {"gpu": 2}


if __name__ == "__main__":
    sys.exit(Suite().main())
'''


def run_suite(root: Path, tests: dict[str, dict[str, Any]], *args: str) -> tuple[int, str, dict[str, Any]]:
    (root / "testsuite.py").write_text(SUITE)
    for name, env in tests.items():
        (root / "tests" / name).mkdir(parents=True)
        (root / "tests" / name / "test.yaml").write_text(json.dumps(env))
    proc = subprocess.run(
        [sys.executable, "testsuite.py", "--no-color", "--progress", "none", *args],
        cwd=root, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300,
    )
    records = store.load_records(root / "out" / "new")
    return proc.returncode, proc.stdout + proc.stderr, records


def overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(a["info"]["start"] < b["info"]["end"] and b["info"]["start"] < a["info"]["end"])


def test_resources_locks_serial_and_weights_in_a_real_run(tmp_path: Path) -> None:
    tests: dict[str, dict[str, Any]] = {f"gpu{i}": {"resources": {"gpu": 1}} for i in range(5)}
    tests.update({f"db{i}": {"locks": ["database"]} for i in range(3)})
    tests["alone"] = {"serial": True}
    tests["make"] = {"slots": 4}
    tests.update({f"free{i}": {} for i in range(4)})
    tests["declared"] = {"declare": {"resources": {"gpu": 2}}}
    tests["too-many"] = {"resources": {"gpu": 3}}
    tests["unknown"] = {"resources": {"tpu": 1}}
    code, out, records = run_suite(tmp_path, tests, "-j4")
    assert code == 1, out
    assert records["too-many"]["status"] == "ERROR"
    assert records["too-many"]["message"] == "needs gpu=3; the testsuite has gpu=2"
    assert records["unknown"]["message"] == "needs tpu=1; the testsuite has gpu=2"
    ran = {k: r for k, r in records.items() if k not in ("too-many", "unknown")}
    assert {r["status"] for r in ran.values()} == {"PASS"}, out
    gpu_users = [r for k, r in ran.items() if k.startswith("gpu") or k == "declared"]
    for record in gpu_users:
        ids = record["info"]["gpu"]
        assert record["info"]["env"] == ",".join(map(str, ids))
        assert all(i in (0, 1) for i in ids)
    assert ran["declared"]["info"]["gpu"] == [0, 1]
    for a, b in itertools.combinations(gpu_users, 2):
        if overlap(a, b):
            assert not set(a["info"]["gpu"]) & set(b["info"]["gpu"]), (a["id"], b["id"])
    for a, b in itertools.combinations([r for k, r in ran.items() if k.startswith("db")], 2):
        assert not overlap(a, b), (a["id"], b["id"])
    for other in ran.values():
        if other["id"] != "alone":
            assert not overlap(ran["alone"], other), other["id"]
    # Some did run side by side: the run was not made serial by all this.
    assert any(overlap(a, b) for a, b in itertools.combinations(ran.values(), 2))


def test_a_weight_above_j_is_clamped(tmp_path: Path) -> None:
    code, out, records = run_suite(tmp_path, {"make": {"slots": 4}, "other": {}}, "-j2")
    assert code == 0, out
    assert {r["status"] for r in records.values()} == {"PASS"}
    assert not overlap(records["make"], records["other"])


def test_resource_on_the_command_line(tmp_path: Path) -> None:
    code, out, records = run_suite(tmp_path, {"a": {"resources": {"gpu": 3}}, "b": {"resources": {"fpga": 1}}},
                                   "-j2", "--resource", "gpu=3", "--resource", "fpga=1")
    assert code == 0, out
    assert records["a"]["info"]["gpu"] == [0, 1, 2]


def test_a_bad_testsuite_resources_declaration_is_a_usage_error(tmp_path: Path) -> None:
    # It died with "internal error: TypeError: 'str' object cannot be interpreted as an integer".
    assert capacities({"gpu": 2}, [("gpu", 4), ("fpga", 1)]) == {"gpu": 4, "fpga": 1}
    for bad in ({"gpu": "2"}, {"gpu": 1.5}, {"gpu": -1}, {"gpu": True}, {"": 1}, [("gpu", 1)]):
        with pytest.raises(CapacityError, match=r"Testsuite\.resources"):
            capacities(bad)
    (tmp_path / "testsuite.py").write_text(SUITE.replace('resources = {"gpu": 2}', 'resources = {"gpu": "2"}'))
    (tmp_path / "tests" / "a").mkdir(parents=True)
    (tmp_path / "tests" / "a" / "test.yaml").write_text("{}")
    proc = subprocess.run(
        [sys.executable, "testsuite.py", "--no-color", "--progress", "none"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == "e3suite: error: Testsuite.resources: gpu='2', expected an integer count >= 0"


def test_a_one_slot_fragment_with_a_lock_waits_for_a_free_slot_not_1_free_slots() -> None:
    admission = Admission(1, {})
    admission.push(0, 2.0)
    assert admitted(admission) == [0]
    admission.push(1, 1.0, Demand(locks=("db",)))
    assert admitted(admission) == []
    assert admission.waiting[1] == "a free slot"


def test_a_resource_name_like_a_counted_one_suggests_it() -> None:
    have = {"gpu": 2, "license": 1}
    assert impossible(Demand(resources=(("gpux", 1),)), have) == (
        "needs gpux=1; the testsuite has gpu=2, license=1 (did you mean gpu?)"
    )
    assert impossible(Demand(resources=(("GPU", 1),)), have).endswith("(did you mean gpu?)")  # type: ignore[union-attr]
    assert impossible(Demand(resources=(("tpu", 1),)), have) == "needs tpu=1; the testsuite has gpu=2, license=1"


def test_resource_names_sharing_an_environment_variable_are_a_usage_error(tmp_path: Path) -> None:
    # gpu and GPU were two resources whose instances commands were both given as
    # E3SUITE_RESOURCE_GPU; and `--resource GPU=2` did not size the declared gpu.
    with pytest.raises(CapacityError) as raised:
        capacities({"gpu": 1, "GPU": 1})
    assert str(raised.value) == (
        "Testsuite.resources: 'gpu' and 'GPU' are two resources that commands would both be given as"
        " E3SUITE_RESOURCE_GPU; resource names are compared as written: rename one"
    )
    with pytest.raises(CapacityError, match="'gpu-a' and 'gpu_a'"):
        capacities({"gpu-a": 1, "gpu_a": 1})
    with pytest.raises(CapacityError) as raised:
        capacities({}, [("tpu", 1), ("TPU", 2)])
    assert str(raised.value).startswith("--resource tpu=1 and --resource TPU=2: two resources")
    assert capacities({"gpu": 1}, [("gpu", 2), ("gpu", 3), ("Tpu", 1)]) == {"gpu": 3, "Tpu": 1}
    (tmp_path / "testsuite.py").write_text(SUITE)
    (tmp_path / "tests" / "a").mkdir(parents=True)
    (tmp_path / "tests" / "a" / "test.yaml").write_text("resources: {gpu: 2}")
    proc = subprocess.run(
        [sys.executable, "testsuite.py", "--no-color", "--progress", "none", "--resource", "GPU=2"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip() == (
        "e3suite: error: --resource GPU=2: the testsuite has 'gpu', not 'GPU'; resource names are compared"
        " as written, and both would be E3SUITE_RESOURCE_GPU in commands' environment (did you mean gpu?)"
    )
    assert not (tmp_path / "out").exists()


def test_a_waiting_reason_is_made_again_once_what_it_named_is_over() -> None:
    # Reasons other than a plain free slot are told to the status and
    # progress; these went on saying "a serial fragment running alone" after
    # it ended, and "gpu (1 of 1)" with the gpu free.
    admission = Admission(2, {})
    admission.push(0, 9.0, Demand(serial=True))
    for index in (1, 2, 3, 4):
        admission.push(index, 1.0)
    assert admitted(admission) == [0]
    assert admission.waiting == dict.fromkeys((1, 2, 3, 4), "a serial fragment running alone")
    admission.release(0)
    assert admitted(admission) == [1, 2]
    # 3 waits for a slot now; the pass stopped there, before looking at 4.
    assert admission.waiting == {3: BACK_TO_A_SLOT, 4: BACK_TO_A_SLOT}
    admission.release(1)
    assert admitted(admission) == [3]
    assert admission.waiting == {4: BACK_TO_A_SLOT}

    admission = Admission(2, {"gpu": 1})
    admission.push(0, 9.0, GPU)
    admission.push(1, 8.0, GPU)
    assert admitted(admission) == [0]
    assert admission.waiting == {1: "gpu (1 of 1)"}
    admission.push(2, 9.5)
    admission.push(3, 9.4)
    admission.release(0)  # the gpu is free, and 2, 3 come before 1 for the slots
    assert admitted(admission) == [2, 3]
    assert admission.waiting == {1: BACK_TO_A_SLOT}
    admission.release(2)
    assert admitted(admission) == [1]
    assert admission.waiting == {}
    # A fragment that only ever waited for a slot keeps the plain reason, which nobody is told.
    admission = Admission(1, {})
    admission.push(0, 2.0)
    admission.push(1, 1.0)
    assert admitted(admission) == [0]
    assert admitted(admission) == []
    assert admission.waiting == {1: "a free slot"}
