"""Start (or reach) the Dask cluster an executor spec names, and describe it.

One function per executor type turns an ``ExecutorSpec`` (config.py) into a
running cluster and a connected ``distributed.Client``: a ``LocalCluster``
(``dask``), an existing scheduler (``dask-scheduler``, left running), an
``SSHCluster`` (``ssh``) or a dask-jobqueue ``SLURMCluster``/``PBSCluster``
(``slurm``/``pbs``, one batch job per worker). ``describe`` says in one
line what an executor would start and ``job_script`` prints the batch
script, for ``e3suite executors``.

It must never run fragments or decide anything about them; and Dask is
imported inside the functions, so that importing this module costs nothing
until a cluster is wanted.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from e3suite.config import ConfigError, ExecutorSpec, cpu_count

#: How long a cluster may take to give its first worker (key ``start_timeout``).
DEFAULT_START_TIMEOUT = 120.0
#: Messages and events Dask keeps for debugging, per stream and per topic (Dask's default: 1000).
LOG_LENGTH = 100
#: How long an SSH host's workers wait for a scheduler that no longer answers before they end.
SSH_DEATH_TIMEOUT = 60


@dataclass
class ClusterHandle:
    """A connected client, and what e3suite must stop at the end."""

    client: Any  # distributed.Client
    cluster: Any | None  # the cluster e3suite started; None for an existing scheduler
    expected_workers: int | None  # a fixed-size cluster's worker count; None: unknown (it may grow)
    allowed_failures: int  # the scheduler's: a fragment runs on at most allowed_failures + 1 workers
    submitted_at: float | None = None  # time.time() the batch jobs were submitted

    watch: str | None = None  # the name of the EngineWatch plugin on a remote scheduler (dask_watch.py)

    def close(self) -> None:
        jobs = _batch_job_ids(self.cluster)
        if self.watch is not None:
            # A normal end: the scheduler must not close itself when we leave.
            with contextlib.suppress(Exception):
                self.client.unregister_scheduler_plugin(self.watch)
        with contextlib.suppress(Exception):
            self.client.close(timeout=10)
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close(timeout=30)
        if jobs:
            _wait_jobs_gone(jobs, timeout=30.0)


def _batch_job_ids(cluster: Any) -> list[str]:
    """The Slurm job ids of a dask-jobqueue cluster's workers (none for other clusters)."""
    if type(cluster).__name__ != "SLURMCluster":
        return []
    with contextlib.suppress(Exception):
        return [str(job.job_id) for job in dict(cluster.workers).values() if getattr(job, "job_id", None)]
    return []


#: Slurm job states of a job that holds nothing any more.
_ENDED_JOB_STATES = {
    "BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT",
}


def _wait_jobs_gone(jobs: list[str], timeout: float) -> None:
    """Wait until ``squeue`` no longer lists ``jobs``: cancelled jobs stay COMPLETING a moment.

    Without this, a user's ``squeue`` just after the run still shows them,
    and a next run may find the node busy. Bounded; a Slurm that does not
    answer is left as it is.
    """
    import subprocess

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            listed = subprocess.run(
                ["squeue", "-h", "-o", "%T", "-j", ",".join(jobs)], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return
        # squeue fails ("Invalid job id") once every job has left its memory.
        if listed.returncode != 0 or not set(listed.stdout.split()) - _ENDED_JOB_STATES:
            return
        time.sleep(0.2)


def describe(spec: ExecutorSpec) -> str:
    """What ``spec`` would start, in one line (imports nothing of Dask)."""
    s = spec.get
    if spec.type == "local":
        return "worker processes on this machine, one per slot (-j N)"
    if spec.type == "dask":
        workers, threads = s("workers", cpu_count()), s("threads_per_worker", 1)
        return f"a Dask LocalCluster on this machine: {workers} worker processes x {threads} thread(s)"
    if spec.type == "dask-scheduler":
        return f"the workers of the existing Dask scheduler {s('address')} (left running)"
    if spec.type == "ssh":
        hosts = list(s("hosts"))
        who = f"{s('user')}@" if s("user") else ""
        return (
            f"a Dask SSHCluster: scheduler on {who}{hosts[0]}, one worker on each of "
            f"{', '.join(hosts[1:])} (port {s('port', 22)})"
        )
    jobs, processes = s("max_jobs", 1), s("processes", 1)
    command = "sbatch" if spec.type == "slurm" else "qsub"
    where = f" in queue {s('queue')}" if s("queue") else ""
    size = ", ".join(f"{k} {s(k)}" for k in ("cores", "memory", "walltime") if s(k) is not None)
    return f"{jobs} {spec.type.upper()} batch job(s) ({command}){where}, {processes} worker(s) each" + (
        f": {size}" if size else ""
    )


def job_script(spec: ExecutorSpec) -> str:
    """The batch script a ``slurm``/``pbs`` executor submits (no job is submitted)."""
    if spec.type not in ("slurm", "pbs"):
        raise ConfigError(f"executor {spec.name!r} is of type {spec.type}: it submits no batch job")
    try:
        cluster = _jobqueue_cluster(spec, allowed_failures=2)
    except ConfigError:
        raise
    except Exception as exc:  # a value dask-jobqueue refuses (memory: lots)
        raise ConfigError(f"executor {spec.name!r} ({spec.type}): cannot make its job script: "
                          f"{type(exc).__name__}: {exc}") from None
    try:
        return str(cluster.job_script())
    finally:
        with contextlib.suppress(Exception):
            cluster.close()


class StartInterrupted(Exception):
    """Ctrl-C or SIGTERM while the cluster started: what was started is closed."""


def _never() -> bool:
    return False


def _wait_for_workers(client: Any, count: int, timeout: float, stop: Callable[[], bool]) -> None:
    """``client.wait_for_workers``, given up at once when ``stop()`` says the run was interrupted.

    Dask's own wait cannot be cut short: Ctrl-C while an external
    scheduler had no worker went unheard for start_timeout (120 s), and
    the run then ended with exit status 2 and an error, not 130.
    """
    deadline = time.monotonic() + timeout
    while len(client.scheduler_info(n_workers=-1).get("workers", {})) < count:
        if stop():
            raise StartInterrupted
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} worker(s) did not join within {timeout:g} s")
        time.sleep(0.1)


def open_cluster(spec: ExecutorSpec, allowed_failures: int, stop: Callable[[], bool] = _never) -> ClusterHandle:
    """Start the cluster and wait for its first worker; raise ConfigError when it cannot.

    ``stop()`` returning True (the run was interrupted) ends the wait for
    workers with ``StartInterrupted``, what was started closed.
    """
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"executor {spec.name!r} needs Dask: pip install 'e3suite[dask]' (distributed, dask-jobqueue)"
        ) from None
    timeout = float(spec.get("start_timeout", DEFAULT_START_TIMEOUT))
    import dask

    # For the whole process, before any comm opens: the client's and the
    # scheduler's streams keep their last messages (and the scheduler its
    # last events by topic) up to this many, for debugging. Outcomes travel
    # as events of up to 16 KiB: at Dask's 1000, that was some 20 MiB of the
    # engine's memory on a large run. Workers e3suite starts inherit it.
    dask.config.set({"distributed.admin.low-level-log-length": LOG_LENGTH})
    opener = {"dask": _local, "dask-scheduler": _scheduler, "ssh": _ssh, "slurm": _batch, "pbs": _batch}[spec.type]
    # A Client left to the collector (one of an earlier run in this process
    # that was never closed) closes itself in __del__: collected while
    # distributed starts its loop thread, it waited for the lock that start
    # holds, for ever (seen in the unit tests). Collected here, none is held.
    gc.collect()
    try:
        handle = opener(spec, allowed_failures, timeout, stop)
    except StartInterrupted:
        raise
    except Exception as exc:
        if stop():
            # Ctrl-C in a terminal reaches a LocalCluster's worker processes
            # too, while they still import: "Nanny failed to start" is the
            # interruption's doing, not the executor's error (exit 2).
            raise StartInterrupted from None
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"cannot start executor {spec.name!r} ({spec.type}): {type(exc).__name__}: {exc}") from None
    return handle


def _local(spec: ExecutorSpec, allowed_failures: int, timeout: float, stop: Callable[[], bool]) -> ClusterHandle:
    import dask
    from distributed import Client, LocalCluster

    workers, threads = int(spec.get("workers", cpu_count())), int(spec.get("threads_per_worker", 1))
    with dask.config.set(_scheduler_config(allowed_failures)):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=threads,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # its HTTP server always runs: no fixed port, loopback only
            scheduler_kwargs={"dashboard": False},
            resources=spec.get("resources") or None,
            # A worker's death is reported as a verdict, not as scheduler log lines.
            silence_logs=logging.CRITICAL,
        )
    try:
        client = Client(cluster, timeout=timeout)
        _wait_for_workers(client, workers, timeout, stop)
    except BaseException:
        cluster.close()
        raise
    return ClusterHandle(client, cluster, workers, allowed_failures)


def _scheduler(spec: ExecutorSpec, allowed_failures: int, timeout: float, stop: Callable[[], bool]) -> ClusterHandle:
    from distributed import Client

    address = str(spec.get("address"))
    refused = _refused(address)
    if refused is not None:
        raise ConfigError(f"executor {spec.name!r}: cannot reach the Dask scheduler at {address}: {refused}")
    try:
        client = Client(address, timeout=timeout)
    except OSError as exc:
        raise ConfigError(f"executor {spec.name!r}: cannot reach the Dask scheduler at {address}: {exc}") from None
    except Exception as exc:
        # Something else listens there (an sshd, a web server): distributed
        # reads its first bytes as a frame length and fails with MemoryError
        # or a msgpack error, which says nothing of the address.
        raise ConfigError(
            f"executor {spec.name!r}: cannot reach the Dask scheduler at {address}: "
            f"it does not answer as a Dask scheduler ({type(exc).__name__}; is it the scheduler's port?)"
        ) from None
    try:
        _wait_for_workers(client, 1, timeout, stop)
    except (OSError, TimeoutError):
        client.close()
        raise ConfigError(
            f"executor {spec.name!r}: the Dask scheduler at {address} has no worker (waited {timeout:g} s)"
        ) from None
    except BaseException:
        client.close()
        raise
    # Its own setting, not ours: an external scheduler is shared and left as it is.
    theirs = client.run_on_scheduler(_scheduler_allowed_failures)
    return ClusterHandle(client, None, None, int(theirs))


def _refused(address: str) -> str | None:
    """Why a TCP scheduler address cannot be connected to at all, at once; None when it may be.

    distributed's Client retries a refused connection until its timeout
    (120 s by default): a wrong port or host is said in a second instead.
    Only refusals and unknown hosts are decided here; a host that does not
    answer is left to the Client's timeout.
    """
    import socket
    import urllib.parse

    parsed = urllib.parse.urlsplit(address if "://" in address else f"tcp://{address}")
    if parsed.scheme not in ("tcp", "tls"):
        return None
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError as exc:
        return f"not a host:port address ({exc})"
    if host is None or port is None:
        return "not a host:port address"
    try:
        with socket.create_connection((host, port), timeout=5):
            return None
    except ConnectionRefusedError:
        return "connection refused (is a scheduler listening on that port?)"
    except socket.gaierror as exc:
        return f"unknown host {host!r} ({exc.strerror})"
    except OSError:
        return None  # a timeout, no route: let the Client try and say so


def _scheduler_allowed_failures(dask_scheduler: Any) -> int:
    return int(dask_scheduler.allowed_failures)


def _ssh(spec: ExecutorSpec, allowed_failures: int, timeout: float, stop: Callable[[], bool]) -> ClusterHandle:
    from distributed import Client, SSHCluster

    hosts = [str(h) for h in spec.get("hosts")]
    connect: dict[str, Any] = {"known_hosts": None, "port": int(spec.get("port", 22))}
    if spec.get("user"):
        connect["username"] = spec.get("user")
    if spec.get("key"):
        connect["client_keys"] = [spec.get("key")]
    worker_options: dict[str, Any] = {
        "nthreads": int(spec.get("threads_per_worker", 1)),
        # A scheduler host that dies (or an unreachable network) ends the
        # workers after this long, instead of leaving them waiting for ever.
        "death_timeout": SSH_DEATH_TIMEOUT,
    }
    scheduler_options: dict[str, Any] = {
        "port": 0, "dashboard_address": "127.0.0.1:0", "dashboard": False, "allowed_failures": allowed_failures,
        # The engine connects within start_timeout, or the run fails anyway.
        "preload": [NO_CLIENT_WATCH.format(grace=f"{timeout:g}")],
    }
    if all(_is_loopback(host) for host in hosts):
        # Every host is this machine: keep the traffic on the loopback interface.
        worker_options["host"] = scheduler_options["host"] = "127.0.0.1"
    if spec.get("resources"):
        worker_options["resources"] = spec.get("resources")
    # The remote processes' log lines would be relayed to the terminal.
    logging.getLogger("distributed.deploy.ssh").setLevel(logging.WARNING)
    # A host that cannot be reached is said once, by open_cluster's error;
    # not also by distributed's "Cluster closed without starting up" line.
    logging.getLogger("distributed.deploy.spec").setLevel(logging.ERROR)
    cluster = SSHCluster(
        hosts,
        connect_options=connect,
        worker_options=worker_options,
        scheduler_options=scheduler_options,
        remote_python=spec.get("python", sys.executable),
    )
    try:
        client = Client(cluster, timeout=timeout)
        _wait_for_workers(client, len(hosts) - 1, timeout, stop)
        watch = _watch_engine(client)
    except BaseException:
        cluster.close()
        raise
    return ClusterHandle(client, cluster, len(hosts) - 1, allowed_failures, watch=watch)


#: Preloaded, as text, by the scheduler an ``ssh`` executor starts: it closes
#: itself (and so its workers) when no client has been connected for
#: ``grace`` seconds. An engine SIGKILLed while the cluster starts, before
#: its client connects and registers EngineWatch (dask_watch.py), left that
#: scheduler running for ever. Text, not a module: the scheduler's host
#: needs no e3suite. No single quote (SSHCluster quotes the spec with them),
#: no blank line (the scheduler logs the text, and SSHCluster takes a blank
#: line of its stderr for a failed start).
NO_CLIENT_WATCH = """import asyncio
import time
def dask_setup(scheduler):
    async def watch():
        since = time.monotonic()
        while scheduler.status.name not in ("closing", "closed"):
            await asyncio.sleep(1)
            if any(name != "fire-and-forget" for name in scheduler.clients):
                since = time.monotonic()
            elif time.monotonic() - since > {grace}:
                await scheduler.close(reason="e3suite: no engine connected for {grace} s")
                return
    scheduler.e3suite_no_client_watch = asyncio.get_running_loop().create_task(watch())"""


def _watch_engine(client: Any) -> str | None:
    """Make the remote scheduler close its cluster if this engine dies (dask_watch.py); the plugin's name.

    None when the scheduler's host cannot load it (e3suite not installed
    there): the run goes on, unwatched, as a plain SSHCluster would.
    """
    from e3suite.executors.dask_watch import EngineWatch

    plugin = EngineWatch(client.id)
    try:
        client.register_plugin(plugin)
    except Exception:
        return None
    return plugin.name


def _import_jobqueue() -> Any:
    """``dask_jobqueue``, imported without letting it take over Ctrl-C.

    Importing it sets the process's SIGINT handler to ``sys.exit()`` (its
    ``runner`` module, made for scripts of its own). The engine's handler is
    installed before the cluster starts: replaced, a Ctrl-C of a Slurm or
    PBS run raised SystemExit wherever the engine was, and the run ended
    with exit status 0, no verdict and "interrupted": false. The handler in
    place before the import is put back.
    """
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if in_main else None
    try:
        import dask_jobqueue
    finally:
        if previous is not None and signal.getsignal(signal.SIGINT) is not previous:
            signal.signal(signal.SIGINT, previous)
    return dask_jobqueue


def _jobqueue_cluster(spec: ExecutorSpec, allowed_failures: int) -> Any:
    try:
        import dask

        dask_jobqueue = _import_jobqueue()
    except ImportError:
        raise ConfigError(f"executor {spec.name!r} needs dask-jobqueue: pip install 'e3suite[dask]'") from None
    s = spec.get
    kwargs: dict[str, Any] = {
        "cores": int(s("cores", 1)),
        "memory": str(s("memory", "1GB")),
        "processes": int(s("processes", 1)),
        "python": s("python", sys.executable),
        "job_script_prologue": list(s("before_script", [])),
        "job_extra_directives": list(s("job_directives", [])),
        "scheduler_options": {"dashboard_address": "127.0.0.1:0", "dashboard": False},
        "silence_logs": "error",  # a refused qsub is only logged: _Recorder reads it
        "job_name": f"e3suite-{spec.name}",
    }
    for key in ("queue", "account", "walltime", "interface"):
        if s(key) is not None:
            kwargs[key] = s(key)
    if s("shared_dir"):
        kwargs["log_directory"] = f"{s('shared_dir')}/dask-logs"
    resources = s("resources")
    if resources:
        kwargs["worker_extra_args"] = ["--resources", ",".join(f"{k}={v}" for k, v in resources.items())]
    cls = dask_jobqueue.SLURMCluster if spec.type == "slurm" else dask_jobqueue.PBSCluster
    with dask.config.set(_scheduler_config(allowed_failures)):
        return cls(**kwargs)


class _Recorder(logging.Handler):
    """Keeps the errors dask-jobqueue only logs (a refused sbatch)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text = f"{text} {record.exc_info[1]}"
        self.messages.append(text.strip())


def _batch(spec: ExecutorSpec, allowed_failures: int, timeout: float, stop: Callable[[], bool]) -> ClusterHandle:
    from distributed import Client

    cluster = _jobqueue_cluster(spec, allowed_failures)
    # Its scheduler runs in the engine's process: a lost batch job is
    # reported as a verdict (the fragment runs again elsewhere), not as the
    # scheduler's "Task ... marked as failed because 1 workers died" lines
    # (silence_logs keeps errors, for _Recorder's loggers).
    logging.getLogger("distributed.scheduler").setLevel(logging.CRITICAL)
    if spec.type == "slurm":
        _check_with_sbatch(spec, cluster)
    recorder = _Recorder()
    loggers = [logging.getLogger(name) for name in ("distributed.deploy.spec", "dask_jobqueue", "distributed.deploy")]
    for logger in loggers:
        logger.addHandler(recorder)
    jobs = int(spec.get("max_jobs", 1))
    workers = jobs * int(spec.get("processes", 1))
    try:
        client = Client(cluster, timeout=timeout)
        submitted = time.time()
        cluster.scale(jobs=jobs)
        deadline = time.monotonic() + timeout
        while not client.scheduler_info().get("workers"):
            if stop():
                raise StartInterrupted
            if recorder.messages:
                raise ConfigError(f"executor {spec.name!r}: the batch job was refused: {recorder.messages[0]}")
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"executor {spec.name!r}: no worker joined within {timeout:g} s of submitting {jobs} job(s)"
                )
            time.sleep(0.1)
    except BaseException:
        with contextlib.suppress(Exception):
            cluster.close()
        raise
    finally:
        for logger in loggers:
            logger.removeHandler(recorder)
    return ClusterHandle(client, cluster, workers, allowed_failures, submitted)


def _check_with_sbatch(spec: ExecutorSpec, cluster: Any) -> None:
    """``sbatch --test-only`` the job script: a job Slurm refuses is said now, with Slurm's words.

    dask-jobqueue only logs a refused ``sbatch``; the run would wait for a
    worker that never comes.
    """
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".sh", prefix="e3suite-job-") as script:
        script.write(str(cluster.job_script()))
        script.flush()
        try:
            check = subprocess.run(["sbatch", "--test-only", script.name], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            with contextlib.suppress(Exception):
                cluster.close()
            raise ConfigError(f"executor {spec.name!r}: cannot run sbatch: {exc}") from None
    if check.returncode != 0:
        with contextlib.suppress(Exception):
            cluster.close()
        lines = [line.strip() for line in check.stderr.splitlines() if line.strip()]
        why = " ".join(lines) or f"status {check.returncode}"
        raise ConfigError(f"executor {spec.name!r}: Slurm refuses its batch job: {why}")


def _scheduler_config(allowed_failures: int) -> dict[str, Any]:
    return {
        "distributed.scheduler.allowed-failures": allowed_failures,
        # e3suite measures durations itself; work stealing would move a
        # fragment queued on a worker after the engine placed it.
        "distributed.scheduler.work-stealing": False,
        "distributed.worker.daemon": False,
        # A worker gets no more fragments than it has threads: Dask counts a
        # worker's death against every task assigned to it, and a fragment
        # merely queued there must not be "lost" with it.
        "distributed.scheduler.worker-saturation": 1.0,
        "distributed.admin.tick.limit": "30s",
    }


def _is_loopback(host: str) -> bool:
    return host == "localhost" or host.startswith("127.") or host == "::1"
