#!/usr/bin/env python3
"""Benchmark of the Dask executor, side by side with the local executor.

    .venv/bin/python tests/bench/dask_bench.py                 # W1 and W4, 3 interleaved rounds
    .venv/bin/python tests/bench/dask_bench.py W1 W4 W5 --rounds 1
    .venv/bin/python tests/bench/dask_bench.py --slurm          # + sbatch -> first fragment on Slurm

Workloads are those of tests/bench/run.py (the stock ``shell`` driver, or a
5-fragment chain driver for W4): W1 (1000 x ``true``), W4 (200 x 5 chained
fragments), W5 (10,000 x ``true``, not run by default). Rows:

- ``local -j2``: the local executor, 2 slots;
- ``dask, 2 workers``: ``--dask`` on a LocalCluster of 2 worker processes x
  1 thread (``-j`` unset: 4 fragments in Dask at once), cluster start-up
  included;
- ``start-up``: the same suites with one testcase, for each executor: what a
  run costs whatever its size. The per-fragment overhead of Dask over the
  local executor is ``((dask - dask start-up) - (local - local start-up)) /
  fragments``.

Each figure is the median of the rounds: wall time, CPU time of the whole
tree, and the engine's own peak RSS (RUSAGE_SELF of the engine process,
written at its exit: the workers are separate processes). ``--slurm`` also
reports the time from ``sbatch`` to the first worker joining and to the
first fragment done, on a real Slurm (skipped when ``sinfo`` is absent).
It prints figures and asserts nothing: the machine may be loaded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import REPO, WORKLOADS, Workload, make_suite  # the benchmark's own helpers

#: Run the testsuite, then write the engine's own peak RSS (KiB) to $E3SUITE_BENCH_RSS.
WRAPPER = """\
import atexit, os, resource, runpy, sys
def report():
    with open(os.environ["E3SUITE_BENCH_RSS"], "w") as f:
        f.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
atexit.register(report)
sys.argv = ["testsuite.py", *sys.argv[1:]]
sys.path.insert(0, os.getcwd())
runpy.run_path("testsuite.py", run_name="__main__")
"""

DASK_CONFIG = "executors:\n  dask: {type: dask, workers: 2, threads_per_worker: 1}\n"


def one_test_suite(root: Path, workload: Workload) -> Path:
    """The workload's suite with its first testcase only: the start-up cost."""
    full = make_suite(root, workload, "stock")
    small = root / f"{full.name}-one"
    if not small.is_dir():
        (small / "tests").mkdir(parents=True)
        shutil.copy(full / "testsuite.py", small / "testsuite.py")
        first = sorted((full / "tests").iterdir())[0]
        shutil.copytree(first, small / "tests" / first.name)
    return small


def run_once(suite: Path, args: list[str], scratch: Path) -> tuple[float, float, int]:
    (suite / "e3suite.yaml").write_text(DASK_CONFIG)
    out = Path(tempfile.mkdtemp(dir=scratch))
    rss_file = out / "rss"
    argv = [sys.executable, "-c", WRAPPER, "-q", "--no-color", "-o", str(out / "o"), *args]
    env = dict(os.environ, E3SUITE_BENCH_RSS=str(rss_file), PYTHONPATH=str(REPO))
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=suite, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    assert proc.stderr is not None
    errors = proc.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} in {suite}: exit {os.waitstatus_to_exitcode(status)}\n{errors[-3000:]}")
    rss = int(rss_file.read_text()) * 1024
    shutil.rmtree(out, ignore_errors=True)
    return wall, usage.ru_utime + usage.ru_stime, rss


def bench_workload(workload: Workload, rounds: int, root: Path) -> None:
    full = make_suite(root, workload, "stock")
    small = one_test_suite(root, workload)
    rows = {
        "local -j2": (full, ["-j2"]),
        "dask, 2 workers x 1 thread": (full, ["--dask"]),
        "start-up: local -j2, 1 testcase": (small, ["-j2"]),
        "start-up: dask, 1 testcase": (small, ["--dask"]),
    }
    samples: dict[str, list[tuple[float, float, int]]] = {row: [] for row in rows}
    order = list(rows)
    for i in range(rounds):
        for row in order[i % len(order) :] + order[: i % len(order)]:
            suite, args = rows[row]
            samples[row].append(run_once(suite, args, root))
    med = {row: tuple(statistics.median(s[k] for s in samples[row]) for k in range(3)) for row in rows}
    fragments = workload.tests * workload.chain
    for row in order:
        wall, cpu, rss = med[row]
        print(f"| {workload.label} | {row} | {wall:.2f} | {cpu:.2f} | {rss / 2**20:.0f} |", flush=True)
    local = med["local -j2"][0] - med["start-up: local -j2, 1 testcase"][0]
    dask = med["dask, 2 workers x 1 thread"][0] - med["start-up: dask, 1 testcase"][0]
    print(
        f"| {workload.label} | Dask overhead per fragment over local (start-ups taken out) | "
        f"{(dask - local) / fragments * 1000:.2f} ms | | |",
        flush=True,
    )


def bench_slurm() -> None:
    """Time from sbatch to the first worker, and to the first fragment done, on Slurm."""
    if shutil.which("sinfo") is None:
        print("slurm: skipped (no sinfo here; .ci/start-services starts a single-node Slurm)")
        return
    from e3suite.config import ExecutorSpec
    from e3suite.executors.base import FragmentTask
    from e3suite.executors.dask_executor import DaskExecutor
    from e3suite.model import TestResult

    spec = ExecutorSpec("bench", "slurm", {"queue": "debug", "cores": 1, "memory": "500MB", "walltime": "00:05:00",
                                           "max_jobs": 1, "interface": "lo"})
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)  # Slurm jobs start in the directory sbatch ran in
        ex = DaskExecutor(spec, None, root_dir=Path(scratch), driver_files=[])
        ex.start()
        try:
            assert ex.handle is not None and ex.handle.submitted_at is not None
            submitted = ex.handle.submitted_at
            joined = time.time()
            task = FragmentTask(0, "t:run", "t", "run", print, {}, Path(scratch), Path(scratch) / "t",
                                argparse.Namespace(), {}, TestResult("t"))
            ex.submit(task)
            while not ex.wait(1.0):
                pass
            done = time.time()
        finally:
            ex.shutdown()
            os.chdir(REPO)
    print(f"| slurm, 1 batch job | sbatch -> worker joined | {joined - submitted:.2f} s |")
    print(f"| slurm, 1 batch job | sbatch -> first fragment done | {done - submitted:.2f} s |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", default=["W1", "W4"], help="among W1, W4, W5 (default: W1 W4)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slurm", action="store_true", help="also time sbatch -> first fragment on Slurm")
    args = parser.parse_args()
    print("| workload | row | wall s | CPU s | engine peak RSS MiB |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="e3suite-bench-dask-") as scratch:
        for name in args.workloads:
            bench_workload(WORKLOADS[name], args.rounds, Path(scratch))
    if args.slurm:
        bench_slurm()
    return 0


if __name__ == "__main__":
    sys.exit(main())
