"""Worker facts and requirements: what a worker is, and what a testcase needs.

A worker probes its own facts when it joins (``probe_facts``, run on the
worker: OS, architecture, CPUs, memory, Python and e3suite versions, a hash
of the testsuite's driver code, and what ``Testsuite.worker_facts()`` adds).
The engine matches a testcase's ``requires:`` (numbers are minimums, strings
are equal or a version range such as ``">=14"`` or ``">=1.2,<2"``) against
them with ``unmet``, and refuses workers whose e3suite version or driver
code differ from its own (``incompatibility``).

Pure functions on plain data: nothing here imports Dask, talks to a
scheduler or decides verdicts.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import socket
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from e3suite.version import __version__

#: Facts every worker publishes, whatever the testsuite adds.
BUILTIN_FACTS = ("os", "arch", "cpus", "memory_mb", "python", "e3suite", "driver_hash", "host", "pid")


def driver_files(suite_class: type, root_dir: Path) -> list[str]:
    """The files of the testsuite's own code (its class and its drivers), relative to ``root_dir``.

    Only files below ``root_dir`` count: e3suite's stock drivers are
    covered by the e3suite version.
    """
    classes: list[type] = [suite_class]
    classes.extend(getattr(suite_class, "test_driver_map", {}).values())
    files = set()
    for cls in classes:
        module = sys.modules.get(cls.__module__)
        path = getattr(module, "__file__", None)
        if not path:
            continue
        try:
            files.add(str(Path(path).resolve().relative_to(root_dir.resolve())))
        except ValueError:
            continue
    return sorted(files)


def hash_files(root_dir: Path, files: Iterable[str]) -> str:
    """A short hash of the files' names and contents ("missing" stands for an unreadable one)."""
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + b"\0")
        try:
            digest.update((root_dir / name).read_bytes())
        except OSError:
            digest.update(b"\0missing\0")
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def probe_facts(root_dir: Path, files: Iterable[str], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """This machine's facts (run on the worker, never assumed by the engine)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    try:
        import psutil

        memory_mb = psutil.virtual_memory().total // (1024 * 1024)
    except Exception:  # pragma: no cover - psutil is a dependency
        memory_mb = 0
    facts: dict[str, Any] = {
        "os": platform.system().lower(),
        "arch": platform.machine(),
        "cpus": cpus,
        "memory_mb": memory_mb,
        "python": platform.python_version(),
        "e3suite": __version__,
        "driver_hash": hash_files(root_dir, files),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    for key, value in (extra or {}).items():
        facts.setdefault(str(key), value)
    return facts


def incompatibility(facts: Mapping[str, Any], version: str, driver_hash: str) -> str | None:
    """Why a worker must never be given work (another e3suite, other driver code), or None."""
    if facts.get("e3suite") != version:
        return f"it runs e3suite {facts.get('e3suite')}, the engine {version}"
    if facts.get("driver_hash") != driver_hash:
        return f"its driver code differs (hash {facts.get('driver_hash')}, the engine's {driver_hash})"
    return None


def unmet(requires: Mapping[str, Any], facts: Mapping[str, Any]) -> list[str]:
    """The requirements ``facts`` do not satisfy, each as "gpu=1" ("" when all are met)."""
    missing = []
    for key, wanted in requires.items():
        have = facts.get(key)
        if not _satisfies(wanted, have):
            missing.append(f"{key}={wanted}")
    return missing


def offers(requires: Mapping[str, Any], all_facts: Iterable[Mapping[str, Any]]) -> str:
    """What the workers offer for the required keys: "gpu=0; os=linux" (distinct values)."""
    parts = []
    facts_list = list(all_facts)
    for key, wanted in requires.items():
        default = 0 if isinstance(wanted, (int, float)) and not isinstance(wanted, bool) else "none"
        values = sorted({str(f.get(key, default)) for f in facts_list})
        parts.append(f"{key}={'|'.join(values) if values else default}")
    return "; ".join(parts)


def _satisfies(wanted: Any, have: Any) -> bool:
    if isinstance(wanted, bool):
        return bool(have) is wanted
    if isinstance(wanted, (int, float)):
        if have is None:
            return wanted <= 0
        try:
            return float(have) >= float(wanted)
        except (TypeError, ValueError):
            return False
    if have is None:
        return False
    text = str(wanted).strip()
    if _RANGE_START.match(text):
        return all(_compare(str(have), clause.strip()) for clause in text.split(",") if clause.strip())
    return str(have) == text


_RANGE_START = re.compile(r"^(>=|<=|==|!=|>|<)")
_OPERATORS = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


def _compare(have: str, clause: str) -> bool:
    match = _RANGE_START.match(clause)
    if match is None:
        return have == clause
    operator = match.group(1)
    return bool(_OPERATORS[operator](version_key(have), version_key(clause[len(operator) :].strip())))


def version_key(text: str) -> tuple[int, ...]:
    """ "14.2.0" -> (14, 2, 0); "gcc 13.1" -> (13, 1): the numbers, in order."""
    return tuple(int(n) for n in re.findall(r"\d+", text)) or (0,)
