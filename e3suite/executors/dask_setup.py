"""Choose a run's executor from its options and configuration; build a Dask one.

``choose`` runs before the results directory and the working directories
are made: configuration errors end the run at once (exit 2), and a Dask
executor with ``shared_dir`` puts the working directories there.
``make_dask_executor`` builds the ``DaskExecutor`` of the chosen spec.

It must never import Dask itself: ``executors/dask_executor.py`` (which
does) is imported only when a Dask executor is chosen.
"""

from __future__ import annotations

import argparse
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from e3suite.config import Config, ConfigError, ExecutorSpec, max_pending_time, select_executor
from e3suite.options import GivenJobs

if TYPE_CHECKING:
    from e3suite.executors.dask_executor import DaskExecutor


@dataclass
class ExecutorChoice:
    spec: ExecutorSpec
    config: Config

    @property
    def is_dask(self) -> bool:
        return self.spec.is_dask


def choose(options: argparse.Namespace, root_dir: Path) -> ExecutorChoice:
    """The executor the options ask for; raise config.ConfigError for a bad configuration."""
    spec, config = select_executor(options, root_dir)
    if spec.is_dask:
        require_dask(spec)
    if spec.is_dask and getattr(options, "in_process", False):
        raise ConfigError(
            f"--in-process runs every fragment in the engine's own process: "
            f"it cannot be used with the Dask executor {spec.name!r} ({spec.type})"
        )
    shared = spec.get("shared_dir")
    if spec.is_dask and shared and getattr(options, "temp_dir", None) is None:
        # Working directories on the shared file system, seen by every host.
        Path(shared).mkdir(parents=True, exist_ok=True)
        options.temp_dir = str(shared)
    return ExecutorChoice(spec, config)


#: The modules a Dask executor of each type imports (the ``dask`` extra):
#: ``dask_executor`` needs distributed and cloudpickle, batch schedulers
#: dask-jobqueue, SSH hosts asyncssh.
_DASK_MODULES = {"distributed": "distributed", "cloudpickle": "cloudpickle"}
_MODULES_OF_TYPE = {"slurm": {"dask_jobqueue": "dask-jobqueue"}, "pbs": {"dask_jobqueue": "dask-jobqueue"},
                    "ssh": {"asyncssh": "asyncssh"}}


def require_dask(spec: ExecutorSpec) -> None:
    """Raise ConfigError when a module the Dask executor ``spec`` needs is not installed.

    Looked for, not imported (listing executors imports no Dask): without
    the extra, ``--dask`` ended in a traceback (no module named
    'cloudpickle') and exit 3, after the previous results had moved to
    ``old``.
    """
    needed = {**_DASK_MODULES, **_MODULES_OF_TYPE.get(spec.type, {})}
    missing = [package for module, package in needed.items() if not _installed(module)]
    if missing:
        raise ConfigError(
            f"executor {spec.name!r} ({spec.type}) needs Dask, and {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed: pip install 'e3suite[dask]'"
        )


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent that is no package; a module without a spec
        return True  # let the import say what is wrong


def make_dask_executor(choice: ExecutorChoice, options: argparse.Namespace, suite: Any) -> DaskExecutor:
    """The Dask executor of ``choice`` for the testsuite ``suite`` (a Testsuite)."""
    from e3suite.executors.dask_executor import DaskExecutor
    from e3suite.executors.dask_facts import driver_files

    jobs = options.jobs if isinstance(options.jobs, GivenJobs) else None
    root_dir = Path(suite.root_dir)
    return DaskExecutor(
        choice.spec,
        jobs,
        root_dir=root_dir,
        driver_files=driver_files(type(suite), root_dir),
        suite_class=type(suite),
        kill_grace=float(getattr(options, "kill_grace", 2.0)),
        max_worker_failures=int(getattr(options, "max_worker_failures", 3)),
        max_pending_time=max_pending_time(options, choice.spec, choice.config),
    )
