"""The testsuite's configuration file, ``e3suite.yaml``, and choosing an executor.

``e3suite.yaml`` sits beside ``testsuite.py`` (or is named by ``--config``)
and declares named executors under ``executors:``, each ``NAME: {type: TYPE,
...}``. This module reads and validates it (one clear line per problem,
naming the key), adds the built-in ``local`` executor, and turns the
command-line options (``--executor``, ``--dask``, ``--dask-scheduler``) into
the one ``ExecutorSpec`` a run uses.

It must never import anything of Dask: a run, or ``e3suite executors``,
that reads a configuration declaring Dask executors imports Dask only when
one of them is used (``executors/dask_*.py``).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The options that choose an executor are parsed with the others (e3suite.options).
from e3suite.options import CONFIG_NAME, DEFAULT_MAX_PENDING_TIME

_INT = {"type": "integer", "minimum": 1}
_STR = {"type": "string", "minLength": 1}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_RESOURCES = {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}}

#: Keys every Dask executor accepts.
_DASK_COMMON: dict[str, Any] = {
    "resources": _RESOURCES,
    "shared_dir": _STR,
    "max_pending_time": {"type": "number", "minimum": 0},
    "start_timeout": {"type": "number", "exclusiveMinimum": 0},
}
_BATCH: dict[str, Any] = {
    "queue": _STR,
    "account": _STR,
    "walltime": _STR,
    "cores": _INT,
    "memory": _STR,
    "processes": _INT,
    "before_script": _STRINGS,
    "max_jobs": _INT,
    "job_directives": _STRINGS,
    "interface": _STR,
    "python": _STR,
}

#: executor type -> its keys (besides ``type``) and their schemas.
EXECUTOR_KEYS: dict[str, dict[str, Any]] = {
    "local": {},
    "dask": {"workers": _INT, "threads_per_worker": _INT, **_DASK_COMMON},
    "dask-scheduler": {"address": _STR, **_DASK_COMMON},
    "ssh": {
        "hosts": {"type": "array", "items": _STR, "minItems": 2},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "user": _STR,
        "key": _STR,
        "threads_per_worker": _INT,
        "python": _STR,
        **_DASK_COMMON,
    },
    "slurm": {**_BATCH, **_DASK_COMMON},
    "pbs": {**_BATCH, **_DASK_COMMON},
}

#: Keys a type cannot do without.
_REQUIRED: dict[str, list[str]] = {"dask-scheduler": ["address"], "ssh": ["hosts"]}


def config_schema() -> dict[str, Any]:
    """The JSON Schema of ``e3suite.yaml`` (also printed in docs/distributed.md)."""
    branches = []
    for type_name, keys in EXECUTOR_KEYS.items():
        branches.append(
            {
                "if": {"properties": {"type": {"const": type_name}}},
                "then": {
                    "properties": {"type": {"const": type_name}, **keys},
                    "required": ["type", *_REQUIRED.get(type_name, [])],
                    "additionalProperties": False,
                },
            }
        )
    executor = {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": list(EXECUTOR_KEYS)}},
        "allOf": branches,
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "executors": {"type": "object", "additionalProperties": executor},
            "max_pending_time": {"type": "number", "minimum": 0},
        },
    }


class ConfigError(Exception):
    """A problem of the configuration or of an executor's set-up, reported in one line."""


@dataclass
class ExecutorSpec:
    """One named executor: its type and its keys, as the configuration gives them."""

    name: str
    type: str
    settings: dict[str, Any] = field(default_factory=dict)
    source: str = "built-in"  # where it was declared

    @property
    def is_dask(self) -> bool:
        return self.type != "local"

    def get(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)


@dataclass
class Config:
    """The configuration of a testsuite: its executors and run-wide settings."""

    executors: dict[str, ExecutorSpec]
    max_pending_time: float | None = None
    path: Path | None = None


def load_config(path: Path | None, root_dir: Path) -> Config:
    """Read ``path`` (or ``root_dir/e3suite.yaml`` when it exists); raise ConfigError."""
    explicit = path is not None
    if path is None:
        path = root_dir / CONFIG_NAME
    builtin = {"local": ExecutorSpec("local", "local")}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{path}: no such configuration file") from None
        return Config(builtin)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    return parse_config(text, str(path), builtin)


def parse_config(text: str, where: str, builtin: dict[str, ExecutorSpec] | None = None) -> Config:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}{at}: invalid YAML: {problem}") from None
    if data is None:
        data = {}
    _validate(data, where)
    executors = dict(builtin or {"local": ExecutorSpec("local", "local")})
    for name, body in (data.get("executors") or {}).items():
        if str(name) == "local" and body["type"] != "local":
            # The default of every run: declared as a cluster, a plain
            # ./testsuite.py would silently start one.
            raise ConfigError(
                f"{where}: executors.local: 'local' is the built-in local executor, the default of every run; "
                f"give this {body['type']} executor another name"
            )
        settings = {k: v for k, v in body.items() if k != "type"}
        executors[str(name)] = ExecutorSpec(str(name), body["type"], settings, where)
    pending = data.get("max_pending_time")
    return Config(executors, float(pending) if pending is not None else None, Path(where))


def _validate(data: Any, where: str) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(config_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.path))))
    if not errors:
        return
    # The deepest error names the key the user got wrong; "allOf"/"if"
    # wrappers only say that some branch failed.
    error = max(errors, key=lambda e: len(e.absolute_path))
    while error.context:
        error = max(error.context, key=lambda e: len(e.absolute_path))
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    raise ConfigError(f"{where}: {key}: {_describe(error)}")


def _describe(error: Any) -> str:
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        names = ", ".join(repr(e) for e in extra)
        return f"unknown key {names} (allowed: {', '.join(allowed)})"
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "required":
        return str(error.message).replace("is a required property", "is required")
    return str(error.message)


# -- choosing the executor of a run ---------------------------------------------


def select_executor(options: argparse.Namespace, root_dir: Path) -> tuple[ExecutorSpec, Config]:
    """The executor the options ask for (``local`` by default), and the configuration read."""
    config_path = getattr(options, "config", None)
    config = load_config(Path(config_path) if config_path else None, root_dir)
    scheduler = getattr(options, "dask_scheduler", None)
    if scheduler:
        return ExecutorSpec("dask-scheduler", "dask-scheduler", {"address": scheduler}, "--dask-scheduler"), config
    if getattr(options, "dask", False):
        declared = config.executors.get("dask")
        if declared is not None and declared.is_dask:
            return declared, config
        return ExecutorSpec("dask", "dask", {"workers": cpu_count(), "threads_per_worker": 1}, "--dask"), config
    name = getattr(options, "executor", None) or "local"
    spec = config.executors.get(name)
    if spec is None:
        where = f" in {config.path}" if config.path else f" (no {CONFIG_NAME} in {root_dir})"
        known = ", ".join(sorted(config.executors))
        raise ConfigError(f"unknown executor {name!r}{where}; known executors: {known}")
    return spec, config


def max_pending_time(options: argparse.Namespace, spec: ExecutorSpec, config: Config) -> float:
    """--max-pending-time, else the executor's key, else the file's, else the default."""
    for value in (getattr(options, "max_pending_time", None), spec.get("max_pending_time"), config.max_pending_time):
        if value is not None:
            return float(value)
    return DEFAULT_MAX_PENDING_TIME


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
