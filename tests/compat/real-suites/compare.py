#!/usr/bin/env python3
"""Run real e3-testsuite testsuites under e3-testsuite 27.x and under `e3suite e3`.

For each testsuite of this directory (see LICENSES.md for where they come
from), run it twice, unmodified: ``python testsuite.py`` (the installed
e3-testsuite) and ``python -m e3suite e3 testsuite.py`` (e3suite's
compatibility layer), with the same options. Print each result's verdict
under both, and both wall times; exit 1 when a verdict or the exit status
differs, or when a process either run started survives it (psutil, by an
environment marker).

    python tests/compat/real-suites/compare.py [-j N] [SUITE...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil

import e3suite.store as store

HERE = Path(__file__).resolve().parent
SUITES = ["bc", "classic", "fragments", "gnatformat", "startup-gen", "userlike"]
MARK = "E3COMPAT_RUN_MARK"


def e3_verdicts(results_dir: Path) -> dict[str, str]:
    """e3-testsuite's results: its _index.json, result name -> status."""
    index = json.loads((results_dir / "_index.json").read_text())
    return {entry["test_name"]: entry["status"] for entry in index["entries"]}


def e3suite_verdicts(results_dir: Path) -> dict[str, str]:
    """e3suite's records, spelled as e3 results: each by the name e3-testsuite gave it.

    A record holds that name in ``info["e3_name"]`` (a result pushed under
    another name than its testcase's is a record of its own); a testcase
    that pushed nothing has none, and is no e3 result.
    """
    verdicts: dict[str, str] = {}
    for _, record in sorted(store.load_records(results_dir).items()):
        name = (record.get("info") or {}).get("e3_name")
        if name is not None:
            verdicts[name] = record["status"]
        elif record["status"] != "NOT_APPLICABLE":
            verdicts[record["id"].replace("/", "__")] = record["status"]
    return verdicts


def leftovers(mark: str) -> list[psutil.Process]:
    """Processes still running with our marker in their environment (then killed)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARK) == mark:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    for proc in found:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    return found


def run(suite: str, engine: str, jobs: int, work: Path) -> tuple[dict[str, str], float, int, list[str]]:
    """(verdicts, wall seconds, exit status, leaked process names) of one run."""
    suite_dir = HERE / suite
    out = work / f"{suite}-{engine}"
    mark = uuid.uuid4().hex
    env = dict(os.environ, **{MARK: mark})
    if (suite_dir / "bin").is_dir():
        env["PATH"] = f"{suite_dir / 'bin'}{os.pathsep}{env['PATH']}"
    script = str(suite_dir / "testsuite.py")
    prefix = [sys.executable, script] if engine == "e3-testsuite" else [sys.executable, "-m", "e3suite", "e3", script]
    cmd = [*prefix, "-o", str(out), f"-j{jobs}", "-t", str(work)]
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    wall = time.monotonic() - start
    leaked = [p.name() for p in leftovers(mark)]
    verdicts = e3_verdicts(out / "new") if engine == "e3-testsuite" else e3suite_verdicts(out / "new")
    if not verdicts:
        print(proc.stdout.decode(errors="replace"))
    return verdicts, wall, proc.returncode, leaked


def compare(suite: str, jobs: int, work: Path) -> bool:
    e3, e3_wall, e3_status, e3_leaked = run(suite, "e3-testsuite", jobs, work)
    ours, our_wall, our_status, our_leaked = run(suite, "e3suite", jobs, work)
    same = e3 == ours
    verdicts = "same verdicts" if same else "VERDICTS DIFFER"
    if e3_status != our_status:  # a CI job fails on one and not on the other
        verdicts += ", EXIT STATUSES DIFFER"
    print(f"== {suite}: {len(e3)} results; e3-testsuite {e3_wall:.2f} s (exit {e3_status}), "
          f"e3suite e3 {our_wall:.2f} s (exit {our_status}); {verdicts}")
    for name in sorted(set(e3) | set(ours)):
        mark = "" if e3.get(name) == ours.get(name) else "   <-- differs"
        print(f"   {name:<40} {e3.get(name, '-'):<8} {ours.get(name, '-'):<8}{mark}")
    if e3_leaked:
        print(f"   (e3-testsuite left {e3_leaked} running: killed)")
    if our_leaked:
        print(f"   e3suite e3 LEFT {our_leaked} RUNNING")
    return same and e3_status == our_status and not our_leaked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("suites", nargs="*", default=SUITES)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="e3compat-") as tmp:
        ok = [compare(suite, args.jobs, Path(tmp)) for suite in args.suites]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
