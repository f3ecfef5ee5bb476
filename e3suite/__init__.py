"""e3suite: a DAG-driven testsuite engine.

The public API: ``Testsuite`` (subclass it in your ``testsuite.py``),
``TestDriver`` and ``FragmentContext`` (write drivers), ``TestStatus``,
``TestResult`` and ``FailureReason`` (report verdicts).
"""

from e3suite.driver import FragmentContext, TestDriver
from e3suite.model import FailureReason, TestResult, TestStatus
from e3suite.testsuite import Testsuite
from e3suite.version import __version__

__all__ = [
    "FailureReason",
    "FragmentContext",
    "TestDriver",
    "TestResult",
    "TestStatus",
    "Testsuite",
    "__version__",
]
