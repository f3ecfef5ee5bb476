"""What a run keeps in memory of finished testcases: not their logs (they are in the records)."""

from __future__ import annotations

import json
from pathlib import Path

from drivers_support import make_suite, run_suite

SUITE = '''
import json, sys
from e3suite import Testsuite
from e3suite.drivers import DiffDriver, ShellDriver

class Suite(Testsuite):
    test_driver_map = {"shell": ShellDriver, "diff": DiffDriver}

    def tear_down(self):
        kept = 0
        for r in self.results:
            kept += len(r.log) + len(r.out or "") + len(r.expected or "") + len(r.diff or "")
            kept += sum(len(str(p.get("output") or "")) + len(str(p.get("stderr") or "")) for p in r.processes)
            kept += sum(len(a.log) for a in r.attempts)
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent (pytest).
        with open("/proc/self/status") as f:
            peak = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
        with open("memory.json", "w") as f:
            json.dump({"kept": kept, "peak": peak, "results": len(self.results)}, f)

if __name__ == "__main__":
    sys.exit(Suite().main())
'''

N = 100
# Each prints 1 MB (the captured output's cap): 1 MB of log per testcase.
BIG = 'cmd: "yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 1000000{fail}"\n'


def _suite(root: Path, big: bool) -> Path:
    files: dict[str, str] = {}
    for i in range(N):
        fail = "; exit 1" if i % 2 else ""
        cmd = BIG.format(fail=fail) if big else f'cmd: "echo small{fail}"\n'
        files[f"tests/t{i:03d}/test.yaml"] = "driver: shell\n" + cmd
    files["tests/d/test.yaml"] = "driver: diff\ncmd: [echo, actual]\n"
    files["tests/d/test.out"] = "expected\n"
    return make_suite(root, files, SUITE)


def test_finished_testcases_texts_are_not_kept_until_the_end_of_the_run(tmp_path: Path) -> None:
    root = _suite(tmp_path / "big", big=True)
    run = run_suite(root, "-j2", "-q", timeout=300)
    assert run.code == 1, run.stderr
    memory = json.loads((root / "memory.json").read_text())
    assert memory["results"] == N + 1
    # The texts are in the records, whole as before ...
    log = run.results["t001"]["log"]
    assert len(log) > 900_000 and log.rstrip().endswith("[exit status 1]")
    assert run.results["d"]["diff"] and run.results["d"]["out"] == "actual\n"
    assert len(run.results["t000"]["processes"][0]["output"]) > 60_000
    # ... and the run keeps none of them: it held 1 MB per testcase (N MB in all).
    assert memory["kept"] < 10_000
    small_root = _suite(tmp_path / "small", big=False)
    assert run_suite(small_root, "-j2", "-q", timeout=300).code == 1
    small = json.loads((small_root / "memory.json").read_text())
    # Peak RSS of the engine: it grew by N MB with the logs; now by the
    # transient copies of a few outputs at a time (generous margin).
    assert memory["peak"] - small["peak"] < N * 1_000_000 / 3, (memory, small)


def test_rewrite_still_sees_the_outputs_it_compares(tmp_path: Path) -> None:
    # --rewrite compares the outputs of testcases sharing a baseline after the run: kept.
    root = make_suite(tmp_path, {
        "tests/m/test.yaml": "driver: diff\nmatrix: {v: [a, b]}\ncmd: [echo, '${v}']\n",
        "tests/m/test.out": "old\n",
    })
    run = run_suite(root, "-j2", "--rewrite")
    assert "give different outputs for this one baseline" in run.stderr, run.stderr
