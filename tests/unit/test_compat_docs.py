"""docs/migrating-from-e3-testsuite.md runs as shown (the way test_docs runs the other pages)."""

from __future__ import annotations

from pathlib import Path

from test_docs import DOCS, blocks, run_command, sessions

PAGE = "migrating-from-e3-testsuite.md"


def test_migration_page_runs_as_shown(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    ran = 0
    for block in blocks(DOCS / PAGE):
        if block.lang == "console":
            for command, expected in sessions(block.body):
                assert run_command(command, suite) == expected, f"{PAGE}:{block.line}: {command}"
                ran += 1
        elif block.title is not None:
            path = suite / block.title
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.body, encoding="utf-8")
        else:
            assert block.lang not in ("yaml", "python"), f"{PAGE}:{block.line}: an example without a title"
    assert ran == 2
