"""The workers of a Dask cluster as the executor sees them: who may run what.

``WorkerPool`` learns the workers that join (their facts, probed by
dask_worker.E3suiteWorkerPlugin, and their Dask resources), refuses those
whose e3suite version or driver code differ from the engine's (said once
through ``notice``), forgets those that leave, remembers every worker
process ever seen (host, pid) so that the commands of those that died can
be killed at the end (``sweep_dead``).

It never submits fragments nor decides anything about them.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from typing import Any

from e3suite.executors.dask_facts import incompatibility
from e3suite.executors.dask_worker import sweep_orphans, worker_facts
from e3suite.version import __version__


class WorkerPool:
    def __init__(self, driver_hash: str, notice: Callable[[str], None], root_dir: str | None = None) -> None:
        self.driver_hash = driver_hash
        self.root_dir = root_dir  # the testsuite whose facts the workers are asked for
        self.notice = notice
        self.workers: dict[str, dict[str, Any]] = {}  # address -> facts (usable workers)
        self.refused: dict[str, str] = {}  # address -> why it gets no work
        self.seen: dict[str, tuple[str, int]] = {}  # address -> (host, pid), every worker ever seen
        self.resources: dict[str, dict[str, float]] = {}
        #: Changes whenever the usable workers change (who may run what): placements made before may differ.
        self.generation = 0

    def threads(self, client: Any) -> int:
        """The total threads of the scheduler's workers."""
        return max(1, sum(int(info.get("nthreads", 1)) for info in scheduler_workers(client).values()))

    def all_joined(self, expected: int | None) -> bool:
        return expected is not None and len(self.workers) + len(self.refused) >= expected

    def refresh(self, client: Any) -> None:
        """Learn the workers that joined (their facts) and forget those that left."""
        workers = scheduler_workers(client)
        for address in list(self.workers):
            if address not in workers:
                del self.workers[address]
                self.generation += 1
        for address in list(self.refused):
            if address not in workers:
                del self.refused[address]
        new = [a for a in workers if a not in self.workers and a not in self.refused]
        if not new:
            return
        try:
            facts = run_on_workers(client, worker_facts, self.root_dir, workers=new, timeout=ANSWER_TIMEOUT)
            # A worker of an older e3suite has a worker_facts() of one
            # argument: asked so, its facts still say which e3suite it runs.
            older = [a for a in new if isinstance(facts.get(a), TypeError)]
            if older:
                facts.update(run_on_workers(client, worker_facts, workers=older, timeout=ANSWER_TIMEOUT))
        except TimeoutError:
            return  # one of them does not answer: next time
        for address in new:
            found = facts.get(address)
            if not isinstance(found, dict) or not found:
                continue  # its plugin has not run yet: next time
            self.seen[address] = (str(found.get("host", "")), int(found.get("pid", 0)))
            self.resources[address] = dict(workers[address].get("resources") or {})
            why = incompatibility(found, __version__, self.driver_hash)
            if why is None and "facts_error" in found:
                why = str(found["facts_error"])
            if why is not None:
                if why not in self.refused.values():
                    self.notice(f"Dask worker {address} on {found.get('host')} is given no work: {why}")
                self.refused[address] = why
            else:
                self.workers[address] = found
            self.generation += 1

    def pids_on_this_host(self) -> list[int]:
        here = socket.gethostname()
        return [pid for host, pid in self.seen.values() if host == here]

    def sweep_dead(self, client: Any) -> None:
        """Kill, on each host, the commands of workers that died there (orphans)."""
        dead: dict[str, list[int]] = {}
        for address, (host, pid) in self.seen.items():
            if address not in self.workers and address not in self.refused:
                dead.setdefault(host, []).append(pid)
        if not dead:
            return
        here = socket.gethostname()
        live_by_host = {facts.get("host"): address for address, facts in self.workers.items()}
        for host, pids in dead.items():
            if host == here:
                sweep_orphans(pids)
            elif host in live_by_host:
                with contextlib.suppress(Exception):
                    run_on_workers(client, sweep_orphans, pids, workers=[live_by_host[host]], on_error="ignore",
                                   timeout=ANSWER_TIMEOUT)


#: How long a worker may take to answer a short order (its facts, a revocation, forgetting a run).
ANSWER_TIMEOUT = 10.0


def run_on_workers(
    client: Any, function: Any, *args: Any, timeout: float, workers: list[str] | None = None,
    on_error: str = "return",
) -> dict[str, Any]:
    """``client.run``, given up after ``timeout`` seconds (``TimeoutError``).

    ``client.run`` waits for every worker's answer, for ever: one worker
    that does not answer (SIGSTOPped, a frozen node, a C call holding the
    GIL) hung the engine, Ctrl-C included (kill_commands at an
    interruption, a revocation, ``forget_run`` at the end).
    """
    return dict(
        client.sync(client._run, function, *args, workers=workers, on_error=on_error, callback_timeout=timeout) or {}
    )


def scheduler_workers(client: Any) -> dict[str, Any]:
    info = client.scheduler_info(n_workers=-1)
    return dict(info.get("workers", {}))
