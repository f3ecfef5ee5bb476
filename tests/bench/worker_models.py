"""Compare the two ways of running fragments warm (numbers for docs/performance.md).

- persistent: one worker process per slot, fed tasks over a pipe;
- fork: one fork of the (warm) parent per fragment.

Each fragment runs ``true`` through e3suite.process.run. The parent holds
``--ballast`` MiB of live objects to stand for a big plan (the engine grows
with the number of testcases, and fork cost grows with it).

    .venv/bin/python tests/bench/worker_models.py --fragments 1000 --jobs 2 --ballast 100
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import time
from multiprocessing.connection import Connection, wait

from e3suite import process


def fragment(n: int) -> int:
    process.run(["true"])
    return n


def persistent_worker(conn: Connection) -> None:
    while True:
        n = conn.recv()
        if n is None:
            return
        conn.send(fragment(n))


def run_persistent(count: int, jobs: int) -> None:
    ctx = multiprocessing.get_context("fork")
    conns, procs = [], []
    for _ in range(jobs):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=persistent_worker, args=(child,))
        proc.start()
        child.close()
        conns.append(parent)
        procs.append(proc)
    todo = list(range(count))
    for conn in conns:
        conn.send(todo.pop())
    done = 0
    while done < count:
        for conn in wait(conns):
            conn.recv()  # type: ignore[union-attr]
            done += 1
            if todo:
                conn.send(todo.pop())  # type: ignore[union-attr]
    for conn, proc in zip(conns, procs, strict=True):
        conn.send(None)
        proc.join()


def run_fork(count: int, jobs: int) -> None:
    running: dict[int, int] = {}
    todo = list(range(count))
    while todo or running:
        while todo and len(running) < jobs:
            n = todo.pop()
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                os.write(write_fd, str(fragment(n)).encode())
                os._exit(0)
            os.close(write_fd)
            running[pid] = read_fd
        pid, _ = os.wait()
        os.close(running.pop(pid))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fragments", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--ballast", type=int, default=0, help="MiB of live objects in the parent")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ballast = [bytearray(1024) for _ in range(args.ballast * 1024)]
    results: dict[str, list[float]] = {"persistent": [], "fork": []}
    for _ in range(args.rounds):
        for name, func in (("persistent", run_persistent), ("fork", run_fork)):
            t0 = time.perf_counter()
            func(args.fragments, args.jobs)
            results[name].append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    for name, times in results.items():
        times.sort()
        median = times[len(times) // 2]
        print(f"{name:10} {args.fragments} fragments -j{args.jobs} parent {rss} MiB: "
              f"median {median:.3f} s ({median / args.fragments * 1000:.2f} ms/fragment)")
    del ballast


if __name__ == "__main__":
    main()
