"""Where a fragment may run on a Dask cluster: eligible_workers, without a cluster."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("cloudpickle")

from e3suite.executors.base import FragmentTask
from e3suite.executors.dask_placement import eligible_workers
from e3suite.model import TestResult


class BrokenDriver:
    def can_run_on(self, facts: dict[str, Any]) -> bool:
        return bool(facts["gnat_version"])  # a fact no worker publishes

    def run(self, ctx: Any) -> None:
        pass


def task_of(callback: Any, tmp_path: Path) -> FragmentTask:
    return FragmentTask(
        index=0, fragment_id="t:run", test_id="t", name="run", callback=callback, test_env={},
        test_dir=tmp_path, working_dir=tmp_path / "t", options=argparse.Namespace(), previous={},
        result=TestResult("t"), timeout=None,
    )


def test_a_can_run_on_that_raises_refuses_with_the_reason(tmp_path: Path) -> None:
    """A driver's can_run_on raising KeyError ended the whole run: 'internal error', exit 3, no verdict."""
    workers = {"tcp://a:1": {"host": "a"}, "tcp://b:1": {"host": "b"}}
    eligible, refusal = eligible_workers(task_of(BrokenDriver().run, tmp_path), workers, {})
    assert eligible == []
    assert refusal == "its driver's can_run_on: raised KeyError: 'gnat_version'"
