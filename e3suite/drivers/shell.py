"""ShellDriver: the YAML-only ``shell`` test type (run ``cmd``, check ``status``).

A testcase needs no Python::

    driver: shell
    cmd: [make, check]        # a list is an argv; a string is a /bin/sh script
    status: 0                 # the expected exit status (default 0)
    stdin: "input text"       # optional
    env: {LANG: C}            # added to the environment
    timeout: 10

List items and ``env`` values are taken as the text written in test.yaml,
whatever YAML would make of them (``[true]`` runs ``true``, ``[sleep, 1]``
passes ``1``, ``[echo, yes]`` prints ``yes``, not ``True``). In a matrix
testcase, ``${axis}`` in ``cmd`` and ``env`` values is replaced by the
combination's value.

This module never compares outputs: DiffDriver adds that.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import e3suite.matrix as matrix
import e3suite.yaml_reader as yaml_reader
from e3suite.drivers.classic import ClassicDriver, TestAbortWithError

if TYPE_CHECKING:
    import yaml

# Any scalar, its text as written is what runs (see source_text): a date that
# YAML makes of 2024-01-01 too (it has no JSON type: hence the second branch).
_SCALAR = {"anyOf": [{"type": ["string", "number", "boolean", "null"]}, {"not": {"type": ["array", "object"]}}]}

SHELL_PROPERTIES: dict[str, Any] = {
    "cmd": {
        "description": "an argv list, or a string run by /bin/sh",
        "anyOf": [{"type": "string", "minLength": 1}, {"type": "array", "minItems": 1, "items": _SCALAR}],
    },
    # An exit status is 0..255: any other value could never be met, every run would FAIL.
    "status": {"type": "integer", "minimum": 0, "maximum": 255, "description": "the expected exit status (default 0)"},
    "stdin": {"type": "string", "description": "text fed to the command's standard input"},
    "env": {
        "type": "object",
        "description": "variables added to the environment",
        "additionalProperties": _SCALAR,
    },
}


class ShellDriver(ClassicDriver):
    """Run ``cmd``; PASS when its exit status is ``status`` (default 0)."""

    test_yaml_schema: ClassVar[dict[str, Any]] = {"properties": SHELL_PROPERTIES, "required": ["cmd"]}

    #: the exit status of the YAML command, once run
    exit_status: int | None = None
    #: why the YAML command could not be started (its status is then 127, as /bin/sh gives)
    start_error: str | None = None

    def run(self) -> None:
        cmd = self.yaml_command()
        result = self.shell(cmd, env=self.yaml_env(), stdin=self.test_env.get("stdin"), catch_error=False)
        self.exit_status = result.status
        self.start_error = result.error

    def compute_failures(self) -> list[str]:
        failures = super().compute_failures()
        expected = int(self.test_env.get("status", 0))
        if self.exit_status is not None and self.exit_status != expected:
            # "exit status 127" alone reads as the command's own verdict: say it never started.
            why = f"cannot run: {self.start_error}: " if self.start_error else ""
            failures.append(f"{why}exit status {self.exit_status} (expected {expected})")
        return failures

    # -- reading the YAML ------------------------------------------------------------

    def yaml_command(self) -> list[str] | str:
        """``cmd`` as written, with ``${axis}`` matrix substitution."""
        if "cmd" not in self.test_env:
            raise TestAbortWithError("missing required key 'cmd' in test.yaml")
        cmd = self.test_env["cmd"]
        if isinstance(cmd, str):
            return matrix.substitute(cmd, self.matrix)
        items = source_text(self.test_dir, "cmd", cmd, self._written("cmd"))
        return [matrix.substitute(item, self.matrix) for item in items]

    def _written(self, key: str) -> Any:
        # A matrix variant substitutes in the text, not in test_env: the
        # written items are those of the one test.yaml all variants share.
        return getattr(self, "test_yaml_written", {}).get(key)

    def yaml_env(self) -> dict[str, str] | None:
        env = self.test_env.get("env")
        if not env:
            return None
        texts = source_text(self.test_dir, "env", env, self._written("env"))
        return {str(k): matrix.substitute(v, self.matrix) for k, v in texts.items()}


def source_text(test_dir: Path, key: str, value: Any, known: Any = None) -> Any:
    """``value`` (a list or mapping of scalars) with each scalar as written.

    Strings are already as written, so test.yaml is only composed again (a
    parse without type resolution) when some item is not a string, and
    the items as written are not ``known`` from discovery's reading.
    """
    items = value.values() if isinstance(value, dict) else value
    if all(isinstance(item, str) for item in items):
        return value
    if known is not None and len(known) == len(value) and isinstance(known, dict) == isinstance(value, dict):
        return known
    path = test_dir / "test.yaml"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            chunks = []
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
        finally:
            os.close(fd)
        text = b"".join(chunks).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        text = None
    # The plain subset (most files) is read without PyYAML, in one pass.
    written = yaml_reader.written_scalars(text, key) if text is not None else None
    if written is not None and len(written) == len(value) and isinstance(written, dict) == isinstance(value, dict):
        return written
    import yaml  # only for items YAML typed outside the plain subset

    node = _top_level_node(test_dir / "test.yaml", key)
    if isinstance(node, yaml.SequenceNode):
        pairs = zip(node.value, value, strict=False)  # same length unless test.yaml changed meanwhile
        return [child.value if isinstance(child, yaml.ScalarNode) else str(v) for child, v in pairs]
    if isinstance(node, yaml.MappingNode):
        return {str(k.value): v.value if isinstance(v, yaml.ScalarNode) else str(v) for k, v in node.value}
    return [matrix.value_text(v) for v in value] if isinstance(value, list) else {
        k: matrix.value_text(v) for k, v in value.items()
    }


def _top_level_node(path: Path, key: str) -> yaml.Node | None:
    import yaml

    try:  # the C loader is faster; the pure-Python one gives the same nodes
        from yaml import CSafeLoader as SafeLoader
    except ImportError:  # pragma: no cover
        from yaml import SafeLoader  # type: ignore[assignment]

    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=SafeLoader)
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    for key_node, value_node in root.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            node: yaml.Node = value_node
            return node
    return None
