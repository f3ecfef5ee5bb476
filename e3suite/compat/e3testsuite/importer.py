"""Serve ``import e3.testsuite...`` from this compatibility package.

``install()`` puts a finder first on ``sys.meta_path``: ``e3.testsuite``
and its submodules resolve to the modules of
``e3suite.compat.e3testsuite`` (the same module objects, so classes are
shared), whether or not e3-testsuite is installed, and whatever was
imported before. A submodule the compatibility layer does not provide is
refused with an ImportError naming it. This module must never import
e3-testsuite itself.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

from e3suite.compat.e3testsuite.unsupported import UnsupportedModule, message

ALIAS = "e3.testsuite"
TARGET = "e3suite.compat.e3testsuite"
#: private modules of the compatibility layer, never served as e3.testsuite.*
_PRIVATE = ("_bridge", "_plan", "_options", "_report", "_threads", "importer", "command", "unsupported")


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        pass  # already executed under its own name


class AliasFinder(importlib.abc.MetaPathFinder):
    """Finds ``e3.testsuite[.x]`` as ``e3suite.compat.e3testsuite[.x]``."""

    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != ALIAS and not fullname.startswith(ALIAS + "."):
            return None
        rest = fullname[len(ALIAS):]
        real = TARGET + rest
        if any(part in _PRIVATE for part in rest.split(".")) or importlib.util.find_spec(real) is None:
            raise UnsupportedModule(message(f"module {fullname}"), name=fullname)
        module = importlib.import_module(real)
        spec = importlib.machinery.ModuleSpec(fullname, _AliasLoader(real), is_package=hasattr(module, "__path__"))
        return spec


def install() -> None:
    """Serve e3.testsuite from the compatibility layer from now on (idempotent)."""
    if not any(isinstance(finder, AliasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, AliasFinder())
    for name in [n for n in sys.modules if n == ALIAS or n.startswith(ALIAS + ".")]:
        del sys.modules[name]  # a real e3-testsuite imported earlier must not be used


def uninstall() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, AliasFinder)]
    for name in [n for n in sys.modules if n == ALIAS or n.startswith(ALIAS + ".")]:
        del sys.modules[name]
