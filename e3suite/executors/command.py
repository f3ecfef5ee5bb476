"""The ``e3suite executors`` subcommand: list the configured executors, print a job script.

``e3suite executors`` reads ``e3suite.yaml`` in the current directory (or
``--config FILE``) and prints one line per executor saying what it would
start; ``--job-script NAME`` prints the batch script a ``slurm``/``pbs``
executor would submit, so that it can be checked before spending queue
time. Listing imports nothing of Dask; only ``--job-script`` does.

It never starts a cluster nor submits a job.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from e3suite.config import ConfigError, load_config
from e3suite.executors.dask_cluster import describe, job_script


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="the configuration file (default: ./e3suite.yaml)")
    parser.add_argument("--job-script", metavar="NAME", help="print the batch script executor NAME would submit")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(Path(args.config) if args.config else None, Path.cwd())
        if args.job_script:
            spec = config.executors.get(args.job_script)
            if spec is None:
                known = ", ".join(sorted(config.executors))
                raise ConfigError(f"unknown executor {args.job_script!r}; known executors: {known}")
            sys.stdout.write(job_script(spec).rstrip("\n") + "\n")
            return 0
    except ConfigError as exc:
        print(f"e3suite executors: error: {exc}", file=sys.stderr)
        return 2
    width = max(len(name) for name in config.executors)
    for name, spec in config.executors.items():
        print(f"{name:<{width}}  {spec.type:<14}  {describe(spec)}")
    return 0
