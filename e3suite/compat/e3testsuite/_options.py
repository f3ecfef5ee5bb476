"""The command line of an e3-testsuite testsuite, and its e3suite meaning.

``build_parser`` gives the options e3-testsuite 27.x users type (through
e3-core's ``e3.main.Main``: logging and ``--build/--host/--target``), plus
a few of e3suite's report options; ``e3suite_options`` maps the parsed
e3 options onto the namespace e3suite's engine and reports read, and
refuses, by name, what has no e3suite meaning. This module only parses:
it must never run anything.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from e3suite.compat.e3testsuite.unsupported import refuse
from e3suite.options import build_parser as build_e3suite_parser

CLEANUP_MODES = {"none": "none", "passing": "passed", "all": "all"}

#: e3-testsuite options e3suite refuses when they are given (dest -> option)
REFUSED = {
    "gaia_output": "--gaia-output",
    "notify_events": "--notify-events",
    "skip_passed": "--skip-passed",
    "dump_environ": "--dump-environ",
}


def add_e3_options(parser: argparse.ArgumentParser, testsuite: Any) -> None:
    """The options of e3-testsuite's ``testsuite_main``."""
    temp = parser.add_argument_group(title="temporaries handling arguments")
    temp.add_argument("-t", "--temp-dir", metavar="DIR", default=None,
                      help="where working directories are created")
    temp.add_argument("--no-random-temp-subdir", dest="random_temp_subdir", action="store_false",
                      help="use --temp-dir itself as the working directory root")
    temp.add_argument("-d", "--dev-temp", metavar="DIR", nargs="?", default=None, const="tmp",
                      help="working directories in DIR (default: tmp), never cleaned up")
    temp.add_argument("--cleanup-mode", choices=list(CLEANUP_MODES), default=None,
                      help="which working directories to remove (default: passing)")
    temp.add_argument("--disable-cleanup", action="store_true", help="same as --cleanup-mode=none")
    output = parser.add_argument_group(title="results output arguments")
    output.add_argument("-o", "--output-dir", metavar="DIR", default="./out",
                        help="results go to DIR/new, the previous DIR/new to DIR/old")
    output.add_argument("--old-output-dir", metavar="DIR", help="results directory to compare with")
    # What e3suite always does (DIR/new moves to DIR/old): accepted, so that CI scripts keep working.
    output.add_argument("--rotate-output-dirs", action="store_true", default=False,
                        help="move the previous DIR/new to DIR/old (e3suite always does)")
    output.add_argument("-E", "--show-error-output", action="store_true", help="show logs of failing tests")
    output.add_argument("--show-time-info", action="store_true", help="show the duration of each testcase")
    output.add_argument("--xunit-output", metavar="FILE", help="write a JUnit XML report to FILE")
    output.add_argument("--gaia-output", action="store_true", help=argparse.SUPPRESS)
    output.add_argument("--status-update-interval", type=float, default=1.0, help="ignored (e3suite: --progress)")
    output.add_argument("--generate-text-report", action="store_true",
                        default=bool(getattr(testsuite, "auto_generate_text_report", False)),
                        help="write a text report of the run to DIR/new/report")
    output.add_argument("--no-generate-text-report", dest="generate_text_report", action="store_false",
                        help="write no text report (see --generate-text-report)")
    output.add_argument("--truncate-logs", "-T", metavar="N", type=int, default=200,
                        help="keep the first and last N lines of command outputs in logs (0: all)")
    output.add_argument("--dump-environ", action="store_true", help=argparse.SUPPRESS)
    output.add_argument("--notify-events", action="append", default=[], help=argparse.SUPPRESS)
    execution = parser.add_argument_group(title="execution control")
    execution.add_argument("--max-consecutive-failures", "-M", metavar="N", type=int,
                           default=getattr(testsuite, "default_max_consecutive_failures", 0),
                           help="stop after N consecutive failures (0: never)")
    execution.add_argument("-j", "--jobs", dest="jobs", type=int, metavar="N", default=os.cpu_count() or 1,
                           help="number of slots (0: one per CPU)")
    execution.add_argument("--failure-exit-code", metavar="N", type=int,
                           default=getattr(testsuite, "default_failure_exit_code", 1),
                           help="exit code when a testcase fails")
    execution.add_argument("--force-multiprocessing", action="store_true",
                           help="run fragments in worker processes even if the testsuite does not claim support")
    execution.add_argument("--skip-passed", action="store_true", help=argparse.SUPPRESS)
    execution.add_argument("--list-json", metavar="FILE", help="write the list of testcases to FILE (JSON), no run")
    # e3suite's own, which e3-testsuite does not have: a testsuite may define
    # an option of the same name (add_options), which then wins. Their dests
    # are e3suite_*, so that its value is never read as ours.
    e3suite = parser.add_argument_group(title="e3suite")
    e3suite.add_argument("--junit", dest="e3suite_junit", metavar="FILE", help="write a JUnit XML report to FILE")
    e3suite.add_argument("--html", dest="e3suite_html", metavar="FILE", help="write an HTML report to FILE")
    e3suite.add_argument("--json", dest="e3suite_json", metavar="FILE", help="write the JSON report to FILE")
    e3suite.add_argument("--in-process", dest="e3suite_in_process", action="store_true",
                         help="run every fragment in threads of the engine's process")
    e3suite.add_argument("--progress", dest="e3suite_progress", choices=("auto", "bar", "lines", "none"),
                         default="none", help="live progress (default: %(default)s)")
    parser.add_argument("sublist", metavar="tests", nargs="*", default=[], help="tests (directories or patterns)")
    # A testsuite's option wins over one of ours. argparse reads the handler
    # of the group an option goes to, and made its first groups (where the
    # testsuite's parser.add_argument lands) before this could be set.
    parser.conflict_handler = "resolve"
    for group in parser._action_groups:
        group.conflict_handler = "resolve"


def e3suite_options(args: argparse.Namespace) -> argparse.Namespace:
    """e3suite's options for a run asked with e3-testsuite's ``args``."""
    for dest, option in REFUSED.items():
        if getattr(args, dest, None):
            refuse(f"the {option} option")
    options = build_e3suite_parser().parse_args([])
    jobs = int(args.jobs)
    options.jobs = jobs if jobs > 0 else (os.cpu_count() or 1)  # e3-testsuite's -j0
    options.output_dir = args.output_dir
    options.compare = _old_output_dir(args.old_output_dir)
    # e3-testsuite: logs with -E, and always for a person at a terminal (no --log-file, both streams ttys)
    options.show_error_output = bool(args.show_error_output) or (
        not getattr(args, "log_file", None) and sys.stdout.isatty() and sys.stderr.isatty()
    )
    options.show_time = bool(args.show_time_info)
    # e3suite's own options are absent from args when the testsuite has one of that name
    options.junit = getattr(args, "e3suite_junit", None) or args.xunit_output
    options.html, options.json = getattr(args, "e3suite_html", None), getattr(args, "e3suite_json", None)
    options.in_process = bool(getattr(args, "e3suite_in_process", False))
    options.progress = getattr(args, "e3suite_progress", "none")
    options.failure_exit_code = args.failure_exit_code
    options.max_consecutive_failures = args.max_consecutive_failures or None
    options.no_color = True
    mode = "passed" if args.cleanup_mode is None else CLEANUP_MODES[args.cleanup_mode]
    if args.disable_cleanup or args.dev_temp:
        mode = "none"
    options.cleanup_mode = mode
    # e3suite always makes a fresh working root below the temporary directory:
    # --dev-temp and --no-random-temp-subdir only choose that directory.
    temp_dir = args.dev_temp or args.temp_dir
    options.temp_dir = os.path.abspath(temp_dir) if temp_dir else None
    options.tests = list(args.sublist)  # selected with e3-testsuite's rules, in _plan
    return options


def _old_output_dir(path: str | None) -> str | None:
    """What ``--old-output-dir`` compares with: nothing, with a warning, when it holds no e3suite results.

    e3-testsuite ignores an old directory that does not exist or holds no
    results (a CI job's first run, a baseline from e3-testsuite itself);
    e3suite's ``--compare`` refuses it. The run goes on either way.
    """
    if path is None:
        return None
    from e3suite.reports.data import explicit_compare_dir
    from e3suite.store import StoreError

    try:
        explicit_compare_dir(Path(path))
    except StoreError as exc:
        reason = str(exc).removeprefix("--compare: ")
        print(f"e3suite: warning: --old-output-dir: {reason}: nothing to compare with", file=sys.stderr)
        return None
    return path
