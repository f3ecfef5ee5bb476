"""e3-testsuite's driver API: TestDriver (``add_test(dag)``) and BasicTestDriver.

A driver is instantiated once per testcase with ``(env, test_env)`` and
declares fragments in ``add_test`` with ``add_fragment(dag, name, fun=None,
after=None)``; callbacks take ``(previous_values, slot)`` and report with
``push_result``. What a push records travels to the engine through the
bridge (``e3suite.compat.e3testsuite._bridge``). This module must never run
a fragment nor decide a testcase's e3suite verdict itself.
"""

from __future__ import annotations

import abc
import argparse
import os
from typing import Any

import e3suite.compat.e3testsuite._bridge as _bridge
from e3suite.compat.e3testsuite.fragment import FragmentCallback, FragmentData
from e3suite.compat.e3testsuite.result import TestResult
from e3suite.compat.e3testsuite.utils import CleanupMode, DummyColors


class TestDriver(metaclass=abc.ABCMeta):
    """Base class of e3-testsuite drivers."""

    __test__ = False

    Fore: Any = DummyColors()
    Style: Any = DummyColors()

    def __init__(self, env: Any, test_env: dict[str, Any]) -> None:
        self.env = env
        options = getattr(env, "options", None)
        self.testsuite_options: argparse.Namespace = options if options is not None else argparse.Namespace()
        self.test_env = test_env
        self.test_name: str = test_env["test_name"]
        self.result = TestResult(name=self.test_name, env=self.test_env)
        self.result_queue: list[_bridge.PushedResult] = []
        self.execution_started = False
        self.pending_fragments: set[str] = set()

    def push_result(self, result: TestResult | None = None) -> None:
        """Push ``result`` (default: ``self.result``) to the testsuite, as it is now."""
        pushed = _bridge.snapshot(self.result if result is None else result)
        pushed.pushed_at = _bridge.push_site()
        self.result_queue.append(pushed)
        _bridge.record_push(pushed)

    def add_fragment(
        self,
        dag: Any,
        name: str,
        fun: FragmentCallback | None = None,
        after: list[str] | None = None,
    ) -> None:
        """Add fragment ``name`` (callback: ``fun``, else the method called ``name``)."""
        by_name = fun is None
        if fun is None:
            fun = getattr(self, name)
        predecessors = None if after is None else [f"{self.test_name}.{k}" for k in after]
        fragment = FragmentData(f"{self.test_name}.{name}", self, name, fun, by_name)
        self.pending_fragments.add(fragment.uid)
        dag.update_vertex(vertex_id=fragment.uid, data=fragment, predecessors=predecessors, enable_checks=False)

    def working_dir(self, *args: str) -> str:
        """A path in the testcase's working directory."""
        return os.path.join(self.test_env["working_dir"], *args)

    def test_dir(self, *args: str) -> str:
        """A path in the testcase's directory."""
        return os.path.join(self.test_env["test_dir"], *args)

    @abc.abstractmethod
    def add_test(self, dag: Any) -> None:
        """Declare the testcase's fragments in ``dag``."""
        raise NotImplementedError

    @property
    def working_dir_cleanup_enabled(self) -> bool:
        return getattr(self.env, "cleanup_mode", CleanupMode.PASSING) is not CleanupMode.NONE


class BasicTestDriver(TestDriver, metaclass=abc.ABCMeta):
    """Four fragments in a row: set_up, run, analyze, tear_down."""

    def add_test(self, dag: Any) -> None:
        self.add_fragment(dag, "set_up")
        self.add_fragment(dag, "run", after=["set_up"])
        self.add_fragment(dag, "analyze", after=["run"])
        self.add_fragment(dag, "tear_down", after=["analyze"])

    def set_up(self, prev: dict[str, Any], slot: int) -> None:
        return self.tear_up(prev, slot)

    def tear_up(self, prev: dict[str, Any], slot: int) -> None:
        """The older name of ``set_up``."""

    def tear_down(self, prev: dict[str, Any], slot: int) -> None:
        """Called last."""

    @abc.abstractmethod
    def run(self, prev: dict[str, Any], slot: int) -> None:
        raise NotImplementedError

    @abc.abstractmethod
    def analyze(self, prev: dict[str, Any], slot: int) -> None:
        raise NotImplementedError
