"""How the compatibility layer refuses what it does not support.

One exception type, ``Unsupported``, raised at once (when a testsuite
imports, instantiates or asks for the feature) with a message naming the
feature, so that users see one line instead of a traceback from deep
inside. This module decides nothing else.
"""

from __future__ import annotations

from typing import NoReturn

DOCS = "docs/migrating-from-e3-testsuite.md"


class Unsupported(Exception):
    """A feature of e3-testsuite that e3suite's compatibility layer does not offer."""


class UnsupportedModule(Unsupported, ImportError):
    """An ``e3.testsuite`` module the layer does not provide: an ImportError (a testsuite may catch it)."""


def message(feature: str) -> str:
    return f"{feature} is not supported by e3suite's e3-testsuite compatibility layer (see {DOCS})"


def refuse(feature: str) -> NoReturn:
    raise Unsupported(message(feature))
