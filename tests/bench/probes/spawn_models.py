"""How close to the floor can a Python engine run W1? Three models, side by side.

W1 is N testcases each running ``true`` at -jJ. This probe runs the same
commands in three ways, in interleaved rounds, and prints medians of wall
time and CPU time (user + system of the whole process tree, from wait4):

- ``floor``: ``xargs -P J -n 1 true``;
- ``workers``: what the local executor does, stripped to its bones: one
  persistent worker process per slot, fed a small pickled task over a pipe,
  running the command with ``e3suite.process.run`` (output captured, leak
  check, rusage) and sending a small pickled outcome back; the parent keeps
  one task queued in each worker's pipe;
- ``direct``: no worker at all: the parent starts each command itself
  (``subprocess.Popen`` with the same stdin, output pipe and new session
  as ``process.run``) and waits for the commands' pidfds and output pipes
  in one ``poll``.

Nothing of e3suite's planning, verdicts, journal or reports runs here: the
gap between ``workers`` and ``floor`` is the price of the worker design
alone, the gap between ``direct`` and ``floor`` what any Python scheduler
pays. docs/performance.md has the figures and what they mean for the
targets.

    .venv/bin/python tests/bench/probes/spawn_models.py --tests 1000 --jobs 2 --rounds 7
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import pickle
import select
import shutil
import statistics
import subprocess
import sys
import time
from multiprocessing.connection import Connection

TRUE = shutil.which("true") or "/bin/true"


def workers(count: int, jobs: int) -> None:
    from e3suite import process

    def serve(conn: Connection) -> None:
        while True:
            data = conn.recv_bytes()
            if not data:
                return
            index = pickle.loads(data)
            result = process.run([TRUE])
            conn.send_bytes(pickle.dumps((index, result.status, result.output, result.cpu)))

    context = multiprocessing.get_context("fork")
    pipes = []
    procs = []
    for _ in range(jobs):
        parent, child = context.Pipe()
        proc = context.Process(target=serve, args=(child,), daemon=True)
        proc.start()
        child.close()
        pipes.append(parent)
        procs.append(proc)
    sent = done = 0
    in_pipe = [0] * jobs
    while done < count:
        for slot, conn in enumerate(pipes):
            while in_pipe[slot] < 2 and sent < count:  # one running, one queued behind
                conn.send_bytes(pickle.dumps(sent))
                sent += 1
                in_pipe[slot] += 1
        for conn in multiprocessing.connection.wait(pipes):
            assert isinstance(conn, Connection)
            pickle.loads(conn.recv_bytes())
            in_pipe[pipes.index(conn)] -= 1
            done += 1
    for conn in pipes:
        conn.send_bytes(b"")
    for proc in procs:
        proc.join()


def direct(count: int, jobs: int) -> None:
    stdin = os.open(os.devnull, os.O_RDONLY)
    poller = select.poll()
    running: dict[int, tuple[subprocess.Popen[bytes], int]] = {}  # output pipe fd -> process, pidfd
    started = done = 0
    while done < count:
        while started < count and len(running) < jobs:
            proc = subprocess.Popen(
                [TRUE], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
            )
            assert proc.stdout is not None
            fd = proc.stdout.fileno()
            running[fd] = (proc, os.pidfd_open(proc.pid))
            poller.register(fd, select.POLLIN)
            started += 1
        for fd, _ in poller.poll():
            if os.read(fd, 65536):
                continue
            proc, pidfd = running.pop(fd)
            poller.unregister(fd)
            select.select([pidfd], [], [])  # its exit
            os.close(pidfd)
            os.wait4(proc.pid, 0)
            proc.returncode = 0
            assert proc.stdout is not None
            proc.stdout.close()
            done += 1


def measure(argv: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{argv} failed: {status}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--model", choices=["workers", "direct"], help=argparse.SUPPRESS)  # one run, measured
    args = parser.parse_args()
    if args.model:
        {"workers": workers, "direct": direct}[args.model](args.tests, args.jobs)
        return 0
    me = [sys.executable, os.path.abspath(__file__), "--tests", str(args.tests), "--jobs", str(args.jobs)]
    models = {
        "floor (xargs -P)": ["sh", "-c", f"seq {args.tests} | xargs -P {args.jobs} -n 1 {TRUE}"],
        "workers (pipe, process.run)": [*me, "--model", "workers"],
        "direct (Popen from one process)": [*me, "--model", "direct"],
    }
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
    names = list(models)
    for round_ in range(args.rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(measure(models[name]))
    floor = statistics.median(w for w, _ in samples[names[0]])
    print(f"{args.tests} x true, -j{args.jobs}, {args.rounds} interleaved rounds, medians")
    print("| model | wall s | x floor | CPU s |")
    print("| --- | --- | --- | --- |")
    for name in names:
        wall = statistics.median(w for w, _ in samples[name])
        cpu = statistics.median(c for _, c in samples[name])
        print(f"| {name} | {wall:.3f} | {wall / floor:.2f} | {cpu:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
