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
import traceback
from types import TracebackType

import e3suite.compat.e3testsuite.importer as importer
from e3suite.compat.e3testsuite.unsupported import Unsupported
from e3suite.testsuite import EXIT_USAGE


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
    except Unsupported as exc:
        # An e3.testsuite module the layer does not provide: one line, as for the refused options.
        where = _last_outside_frame(exc.__traceback__)
        print(f"e3suite: error: {exc}" + (f", imported at {where}" if where else ""), file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        # The script's own error (testsuite_main reports its own): what python would
        # print, the script's frames without e3suite's and runpy's before them, status 1.
        traceback.print_exception(type(exc), exc, _from_script(exc.__traceback__, script))
        return 1
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    return 0


def _from_script(tb: TracebackType | None, script: str) -> TracebackType | None:
    """``tb`` from the script's first frame on (None for an error in compiling it: a SyntaxError)."""
    path = os.path.abspath(script)
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != path:
        tb = tb.tb_next
    return tb


def _last_outside_frame(tb: TracebackType | None) -> str | None:
    """``FILE:LINE`` of the innermost frame of the testsuite's code (not importlib's, not e3suite's)."""
    package = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    where = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.startswith("<") and not os.path.abspath(filename).startswith(package + os.sep):
            where = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where
