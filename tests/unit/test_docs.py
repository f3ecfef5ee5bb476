"""The examples of docs/ are run, so the documentation cannot rot.

Each page is one sample testsuite built as the reader would: every fenced
block with a ``title="path"`` is a file written (in page order, a later
block replacing an earlier one), and every ``console`` block is a session
whose ``$ ./testsuite.py ...`` / ``$ e3suite ...`` commands run against the
files written so far; their output must be what the page shows (``<WD>``
stands for the suite's directory). A ``yaml`` or ``python`` block without a
title is an error: no example escapes this test.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = ["tutorial.md", "drivers.md", "process.md", "retries.md"]

_FENCE = re.compile(r"^```(?P<lang>[\w-]*)(?P<attrs>[^\n]*)\n(?P<body>.*?)^```\s*$", re.S | re.M)
_TITLE = re.compile(r'title="(?P<title>[^"]+)"')


@dataclass
class Block:
    lang: str
    title: str | None
    body: str
    line: int


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        title = _TITLE.search(match["attrs"])
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(match["lang"], title["title"] if title else None, match["body"], line))
    return found


def sessions(body: str) -> list[tuple[str, str]]:
    """(command, expected output) pairs of a console block."""
    result: list[tuple[str, str]] = []
    for line in body.splitlines(keepends=True):
        if line.startswith("$ "):
            result.append((line[2:].strip(), ""))
        elif result:
            result[-1] = (result[-1][0], result[-1][1] + line)
    return result


def run_command(command: str, suite: Path) -> str:
    argv = shlex.split(command)
    if argv[0] == "./testsuite.py":
        argv = [sys.executable, "testsuite.py", *argv[1:]]
    elif argv[0] == "e3suite":
        argv = [sys.executable, "-m", "e3suite", *argv[1:]]
    else:
        raise AssertionError(f"unexpected command in the docs: {command}")
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="80")
    env.pop("NO_COLOR", None)
    proc = subprocess.run(argv, cwd=suite, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=120)
    # The interpreter a driver runs (sys.executable) is this machine's: the pages say "python".
    return proc.stdout.replace(str(suite), "<WD>").replace(sys.executable, "python")


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run_as_shown(page: str, tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    ran = 0
    for block in blocks(DOCS / page):
        where = f"{page}:{block.line}"
        if block.lang == "console":
            for command, expected in sessions(block.body):
                assert run_command(command, suite) == expected, f"{where}: {command}"
                ran += 1
        elif block.title is not None:
            path = suite / block.title
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.body, encoding="utf-8")
            if path.name == "testsuite.py":
                path.chmod(0o755)
        else:
            assert block.lang not in ("yaml", "python"), f"{where}: an example without title=\"path\" is not tested"
    assert ran > 0, f"{page} has no console session"


def rewrite_page(page: Path, suite: Path) -> str:
    """The page with each console session's output replaced by the actual one."""
    text = page.read_text(encoding="utf-8")
    pieces: list[str] = []
    last = 0
    for match in _FENCE.finditer(text):
        lang, title, body = match["lang"], _TITLE.search(match["attrs"]), match["body"]
        if lang == "console":
            new_body = "".join(f"$ {command}\n{run_command(command, suite)}" for command, _ in sessions(body))
            pieces.append(text[last : match.start("body")] + new_body)
            last = match.end("body")
        elif title is not None:
            path = suite / title["title"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
    pieces.append(text[last:])
    return "".join(pieces)


if __name__ == "__main__":
    # `python tests/unit/test_docs.py` rewrites the console outputs of the
    # pages after an intended change of what e3suite prints: read the diff.
    import tempfile

    for name in PAGES:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "suite").mkdir()
            (DOCS / name).write_text(rewrite_page(DOCS / name, Path(tmp) / "suite"), encoding="utf-8")
            print(f"rewrote the console sessions of docs/{name}")
