"""The ``e3suite`` command: tools that work on results directories.

Subcommands register themselves in ``SUBCOMMANDS`` (name -> module with
``add_arguments(parser)`` and ``run(args) -> int``). Running a testsuite is
not a subcommand: that is the user's ``testsuite.py``; the one exception is
``e3``, which runs an e3-testsuite testsuite's script on e3suite's engine.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys

from e3suite.version import __version__

#: The exit status when stdout's reader went away (``| head``): 128 + SIGPIPE,
#: what a command-line tool killed by the signal exits with.
EXIT_READER_GONE = 141

#: subcommand name -> (module path, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "report": (
        "e3suite.reports.command",
        "print a run's summary again and write JUnit XML, HTML and JSON reports from its results directory",
    ),
    "executors": (
        "e3suite.executors.command",
        "list the executors of e3suite.yaml (what each would start); --job-script NAME prints a batch script",
    ),
    "status": (
        "e3suite.reports.status_command",
        "what a run is doing (running, waiting, counts, time left), from another terminal; --wait done|TEST_ID",
    ),
    "rewrite": (
        "e3suite.rewrite",
        "write the actual outputs of a run's baseline differences (DIFF failures) to their baselines",
    ),
    "merge": (
        "e3suite.merge",
        "merge the results directories of shards (--shard K/N) into one, checked for overlaps and missing testcases",
    ),
    "e3": (
        "e3suite.compat.e3testsuite.command",
        "run an unmodified e3-testsuite testsuite (TESTSUITE.py ARGS...) on e3suite's engine",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="e3suite",
        allow_abbrev=False,
        description="e3suite: a DAG-driven testsuite engine. Run a testsuite with its own testsuite.py; "
        "this command works on results directories.",
    )
    parser.add_argument("--version", action="version", version=f"e3suite {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=help_text, description=help_text, allow_abbrev=False)
        module.add_arguments(sub)
        sub.set_defaults(_module=module)
    return parser


#: The exit status of a command stopped by Ctrl-C: 128 + SIGINT, as a shell reports it.
EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Ctrl-C is how `e3suite status --watch` ends, and how a long report
        # is given up: no traceback (a report file being written may be cut).
        print(file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    module = getattr(args, "_module", None)
    if module is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(module.run(args))
    except BrokenPipeError:
        return reader_gone()


def reader_gone() -> int:
    """Stdout's reader went away (``e3suite status | head``): stop quietly, as other tools do.

    Stdout is pointed at /dev/null first: the interpreter flushes it once more
    at exit, which would print a second broken-pipe error.
    """
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_READER_GONE
