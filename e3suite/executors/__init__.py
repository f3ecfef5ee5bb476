"""Executors run fragments in slots; see ``base.Executor`` for the interface."""

from e3suite.executors.base import Executor, FragmentOutcome, FragmentTask, run_fragment

__all__ = ["Executor", "FragmentOutcome", "FragmentTask", "run_fragment"]
