"""e3suite.yaml (config.py): validation with clear errors, choosing the executor."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from e3suite.config import (
    ConfigError,
    ExecutorSpec,
    config_schema,
    load_config,
    max_pending_time,
    parse_config,
    select_executor,
)
from e3suite.options import GivenJobs, build_parser

GOOD = """
max_pending_time: 30
executors:
  big: {type: slurm, queue: debug, cores: 1, memory: 1GB, walltime: "00:10:00", max_jobs: 2}
  two: {type: dask, workers: 2, threads_per_worker: 1, max_pending_time: 5}
  far: {type: dask-scheduler, address: "tcp://127.0.0.1:8786"}
  hosts: {type: ssh, hosts: [a, b, c], port: 2222, user: root, key: /k}
"""


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "e3suite.yaml")
    return str(info.value)


def test_a_good_configuration() -> None:
    config = parse_config(GOOD, "e3suite.yaml")
    assert sorted(config.executors) == ["big", "far", "hosts", "local", "two"]
    big = config.executors["big"]
    assert (big.type, big.get("max_jobs"), big.is_dask) == ("slurm", 2, True)
    assert not config.executors["local"].is_dask
    assert config.max_pending_time == 30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("executors: {x: {type: slurm, queu: debug}}", "e3suite.yaml: executors.x: unknown key 'queu' (allowed: "),
        ("executors: {x: {type: slurm, cores: two}}", "executors.x.cores: 'two' is not of type 'integer'"),
        ("executors: {x: {type: slurmy}}", "executors.x.type: 'slurmy' is not one of local, dask, dask-scheduler"),
        ("executors: {x: {type: dask-scheduler}}", "executors.x: 'address' is required"),
        ("executors: {x: {workers: 2}}", "executors.x: 'type' is required"),
        ("executors: {x: {type: dask, workers: 0}}", "executors.x.workers: 0 is less than the minimum of 1"),
        ("executor: {}", "(top level): unknown key 'executor' (allowed: executors, max_pending_time)"),
        ("executors: [a\n", "e3suite.yaml:2:1: invalid YAML"),
    ],
)
def test_errors_name_the_key(text: str, message: str) -> None:
    assert message in error_of(text)


def test_the_builtin_local_executor_cannot_be_redeclared_as_a_cluster() -> None:
    """``local`` is the default of every run: as a Dask cluster, a plain run silently started one."""
    assert error_of("executors: {local: {type: dask, workers: 1}}") == (
        "e3suite.yaml: executors.local: 'local' is the built-in local executor, the default of every run; "
        "give this dask executor another name"
    )
    assert not parse_config("executors: {local: {type: local}}", "e3suite.yaml").executors["local"].is_dask


def test_schema_lists_every_type() -> None:
    types = config_schema()["properties"]["executors"]["additionalProperties"]["properties"]["type"]["enum"]
    assert types == ["local", "dask", "dask-scheduler", "ssh", "slurm", "pbs"]


def test_no_file_means_local_only(tmp_path: Path) -> None:
    assert list(load_config(None, tmp_path).executors) == ["local"]
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "nope.yaml", tmp_path)


def test_choosing_the_executor(tmp_path: Path) -> None:
    (tmp_path / "e3suite.yaml").write_text(GOOD)
    options = build_parser().parse_args([])
    assert select_executor(options, tmp_path)[0].name == "local"
    options = build_parser().parse_args(["--executor", "big"])
    assert select_executor(options, tmp_path)[0].type == "slurm"
    options = build_parser().parse_args(["--dask"])
    spec = select_executor(options, tmp_path)[0]
    assert (spec.name, spec.type, spec.get("threads_per_worker")) == ("dask", "dask", 1)
    options = build_parser().parse_args(["--dask-scheduler", "tcp://127.0.0.1:1"])
    assert select_executor(options, tmp_path)[0].settings == {"address": "tcp://127.0.0.1:1"}
    options = build_parser().parse_args(["--executor", "nope"])
    with pytest.raises(ConfigError, match=r"unknown executor 'nope' in .*; known executors: big, far, hosts, local"):
        select_executor(options, tmp_path)


def test_dask_picks_the_declared_dask_executor(tmp_path: Path) -> None:
    (tmp_path / "e3suite.yaml").write_text("executors: {dask: {type: dask, workers: 3}}")
    spec = select_executor(build_parser().parse_args(["--dask"]), tmp_path)[0]
    assert spec.get("workers") == 3


def test_jobs_typed_on_the_command_line_are_told_apart() -> None:
    assert not isinstance(build_parser().parse_args([]).jobs, GivenJobs)
    given = build_parser().parse_args(["-j", "3"]).jobs
    assert isinstance(given, GivenJobs) and given == 3


def test_max_pending_time_precedence(tmp_path: Path) -> None:
    config = parse_config(GOOD, "e3suite.yaml")
    options = build_parser().parse_args([])
    assert max_pending_time(options, config.executors["two"], config) == 5
    assert max_pending_time(options, config.executors["big"], config) == 30
    options = build_parser().parse_args(["--max-pending-time", "2"])
    assert max_pending_time(options, config.executors["two"], config) == 2
    assert max_pending_time(options, config.executors["local"], parse_config("", "x")) == 2


def test_reading_a_dask_configuration_imports_no_dask(tmp_path: Path) -> None:
    (tmp_path / "e3suite.yaml").write_text(GOOD)
    code = (
        "import sys, pathlib\n"
        "from e3suite.options import GivenJobs, build_parser\n"
        "from e3suite.executors import dask_setup, command, dask_cluster\n"
        "options = build_parser().parse_args(['--executor', 'big'])\n"
        f"choice = dask_setup.choose(options, pathlib.Path({str(tmp_path)!r}))\n"
        "print(dask_cluster.describe(choice.spec))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'dask_jobqueue')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "[]"
    assert "2 SLURM batch job(s) (sbatch) in queue debug" in out


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("tcp://127.0.0.1:1", "connection refused (is a scheduler listening on that port?)"),
        ("127.0.0.1:1", "connection refused"),
        ("tcp://127.0.0.1", "not a host:port address"),
        ("tcp://no-such-host.invalid:8786", "unknown host 'no-such-host.invalid'"),
    ],
)
def test_a_scheduler_that_cannot_be_reached_is_said_at_once(address: str, message: str) -> None:
    """Not after the Client's 120 s of retries: a refused port or an unknown host is known at once."""
    pytest.importorskip("distributed")
    from e3suite.executors.dask_cluster import open_cluster

    spec = ExecutorSpec("dask-scheduler", "dask-scheduler", {"address": address})
    with pytest.raises(ConfigError) as caught:
        open_cluster(spec, allowed_failures=0)
    assert f"cannot reach the Dask scheduler at {address}: {message}" in str(caught.value)


def test_in_process_with_a_dask_executor_is_a_usage_error(tmp_path: Path) -> None:
    from e3suite.executors.dask_setup import choose

    with pytest.raises(ConfigError, match="--in-process .* cannot be used with the Dask executor 'dask'"):
        choose(build_parser().parse_args(["--dask", "--in-process"]), tmp_path)
    assert not choose(build_parser().parse_args(["--in-process"]), tmp_path).is_dask


HIDE_DASK = '''
import sys
for name in ("cloudpickle", "distributed", "dask_jobqueue"):
    sys.modules[name] = None  # as if e3suite were installed without its [dask] extra
from e3suite import Testsuite
from e3suite.drivers import ShellDriver

class Suite(Testsuite):
    test_driver_map = {"shell": ShellDriver}

if __name__ == "__main__":
    sys.exit(Suite().main())
'''


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dask"], "executor 'dask' (dask) needs Dask, and distributed, cloudpickle are not installed"),
        (["--executor", "big"],
         "executor 'big' (slurm) needs Dask, and distributed, cloudpickle, dask-jobqueue are not installed"),
    ],
)
def test_a_dask_executor_without_the_dask_extra_is_a_usage_error(tmp_path: Path, args: list[str],
                                                                  message: str) -> None:
    """Not a traceback (no module named 'cloudpickle'), exit 3, after the previous results moved to old."""
    from drivers_support import make_suite, run_suite

    make_suite(tmp_path, {"tests/a/test.yaml": "driver: shell\ncmd: [true]\n", "e3suite.yaml": GOOD}, HIDE_DASK)
    assert run_suite(tmp_path).code == 0
    journal = (tmp_path / "out" / "new" / "journal.jsonl").read_bytes()
    run = run_suite(tmp_path, *args)
    assert (run.code, run.stdout) == (2, ""), run.stderr
    assert run.stderr == f"e3suite: error: {message}: pip install 'e3suite[dask]'\n"
    assert (tmp_path / "out" / "new" / "journal.jsonl").read_bytes() == journal  # nothing rotated
