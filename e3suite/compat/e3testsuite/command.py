"""The ``e3suite e3 TESTSUITE.py ARGS...`` subcommand: run an unmodified e3-testsuite testsuite.

It installs the ``e3.testsuite`` import alias, then runs the script as
``__main__`` with ``sys.argv = [TESTSUITE.py, *ARGS]`` (ARGS untouched:
they are the testsuite's options) and returns its exit status. It never
parses the testsuite's options itself.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys

import e3suite.compat.e3testsuite.importer as importer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("testsuite", metavar="TESTSUITE.py", help="the testsuite's main script")
    rest = parser.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS",
                               help="the testsuite's own options and tests, passed as they are")
    rest.required = False  # argparse marks a REMAINDER required: a missing script named ARGS as missing too


def run(args: argparse.Namespace) -> int:
    return run_script(args.testsuite, list(args.args))


def run_script(script: str, argv: list[str]) -> int:
    """Run ``script`` as python would, with e3.testsuite served by e3suite."""
    if not os.path.isfile(script):
        if os.path.isdir(script):
            # `e3suite e3 .` or the testsuite's directory: name the script it holds, if any.
            inside = os.path.join(script, "testsuite.py")
            hint = f" (did you mean {inside}?)" if os.path.isfile(inside) else ""
            print(f"e3suite e3: error: {script} is a directory, not a testsuite script{hint}", file=sys.stderr)
        else:
            print(f"e3suite e3: error: {script}: no such file", file=sys.stderr)
        return 2
    importer.install()
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [script, *argv]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    return 0
