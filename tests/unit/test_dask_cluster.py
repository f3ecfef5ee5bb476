"""dask_cluster.py: starting clusters and describing them, without side effects on the engine."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_importing_dask_jobqueue_leaves_the_engines_ctrl_c_handler() -> None:
    """dask_jobqueue's import sets SIGINT to sys.exit(): a Ctrl-C of a Slurm run ended it with status 0.

    The engine installs its handler before the cluster starts; building a
    SLURMCluster (here through ``job_script``, which submits nothing) must
    leave that handler in place. In a fresh interpreter: this one may have
    imported dask_jobqueue already.
    """
    pytest.importorskip("dask_jobqueue")
    code = (
        "import signal\n"
        "def mine(signum, frame): pass\n"
        "signal.signal(signal.SIGINT, mine)\n"
        "from e3suite.config import ExecutorSpec\n"
        "from e3suite.executors.dask_cluster import job_script\n"
        "job_script(ExecutorSpec('big', 'slurm', {'queue': 'debug'}))\n"
        "print(signal.getsignal(signal.SIGINT) is mine)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split()[-1] == "True"


def test_a_job_script_dask_jobqueue_refuses_is_an_error_naming_the_executor() -> None:
    """``e3suite executors --job-script`` on ``memory: lots`` said so with a traceback."""
    pytest.importorskip("dask_jobqueue")
    from e3suite.config import ConfigError, ExecutorSpec
    from e3suite.executors.dask_cluster import job_script

    with pytest.raises(ConfigError) as caught:
        job_script(ExecutorSpec("big", "slurm", {"memory": "lots"}))
    assert str(caught.value) == (
        "executor 'big' (slurm): cannot make its job script: ValueError: Could not interpret 'lots' as a byte unit"
    )


def test_an_ssh_host_that_refuses_is_said_in_one_line() -> None:
    """The error names the executor; distributed's own warning line is not printed besides it.

    In a fresh interpreter, as a run: distributed's log handler writes to
    the stderr it found when imported.
    """
    pytest.importorskip("asyncssh")
    code = (
        "import socket\n"
        "from e3suite.config import ConfigError, ExecutorSpec\n"
        "from e3suite.executors.dask_cluster import open_cluster\n"
        "probe = socket.socket(); probe.bind(('127.0.0.1', 0)); port = probe.getsockname()[1]; probe.close()\n"
        "spec = ExecutorSpec('hosts', 'ssh', {'hosts': ['127.0.0.1', '127.0.0.1'], 'port': port})\n"
        "try:\n"
        "    open_cluster(spec, allowed_failures=0)\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.stdout.startswith("cannot start executor 'hosts' (ssh): "), run.stdout + run.stderr
    assert "Connect call failed" in run.stdout
    assert run.stderr == ""


def test_a_port_that_is_no_dask_scheduler_is_said_so() -> None:
    """``--dask-scheduler tcp://host:2222`` (an sshd) said ``cannot start executor ...: MemoryError:``.

    distributed reads the server's banner as a frame length; the user is
    told what the address is not, in one line.
    """
    pytest.importorskip("distributed")
    import socket
    import threading

    from e3suite.config import ConfigError, ExecutorSpec
    from e3suite.executors.dask_cluster import open_cluster

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def banner() -> None:  # what sshd says to every connection
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n" * 4)
                stop.wait(1)

    thread = threading.Thread(target=banner, daemon=True)
    thread.start()
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    try:
        with pytest.raises(ConfigError) as caught:
            open_cluster(ExecutorSpec("dask-scheduler", "dask-scheduler", {"address": address, "start_timeout": 30}), 2)
    finally:
        stop.set()
        thread.join()
        server.close()
    assert str(caught.value).startswith(
        f"executor 'dask-scheduler': cannot reach the Dask scheduler at {address}: "
        "it does not answer as a Dask scheduler ("
    ), str(caught.value)


def test_the_ssh_schedulers_preloaded_watch_survives_the_ssh_launcher() -> None:
    """SSHCluster quotes the scheduler's spec in single quotes and takes a blank stderr line for a failed start.

    The scheduler logs a preloaded text line by line: one blank line in it
    and every ssh run failed with "Worker failed to start".
    """
    from e3suite.executors.dask_cluster import NO_CLIENT_WATCH

    text = NO_CLIENT_WATCH.format(grace="120")
    assert "'" not in text
    assert all(line.strip() for line in text.splitlines()) and not text.endswith("\n")
    assert " " in text  # distributed takes a preload without a space for a module name
    namespace: dict[str, object] = {}
    exec(compile(text, "<preload>", "exec"), namespace)
    assert callable(namespace["dask_setup"])
