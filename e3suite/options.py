"""Command-line options of a testsuite run (``./testsuite.py``).

Only the parser lives here: what the options mean is implemented by the
layers that read them. Testsuites add their own with ``add_options``.
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Any

from e3suite.version import __version__


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def positive_int(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def resource_count(text: str) -> tuple[str, int]:
    """``gpu=2`` -> ("gpu", 2)."""
    name, sep, count = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=COUNT, e.g. gpu=2")
    try:
        value = int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: the count {count!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the count must not be negative")
    return name, value


def non_negative_int(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def seconds(text: str) -> float:
    """A finite number of seconds, 0 or more (float() alone takes 'inf' and 'nan')."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number of seconds")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def positive_seconds(text: str) -> float:
    """A timeout: more than 0 seconds (no timeout at all is the option's absence)."""
    value = seconds(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 (leave the option out for no timeout)")
    return value


def exit_code(text: str) -> int:
    """An exit status the shell sees as given: 0 to 255 (256 would wrap to 0, a success)."""
    value = _integer(text)
    if not 0 <= value <= 255:
        raise argparse.ArgumentTypeError(f"{text!r} must be from 0 to 255")
    return value


#: ``--shard-by`` methods: e3suite.shard's METHODS (a unit test checks they agree), spelled
#: here so that building the parser does not import sharding.
SHARD_METHODS = ("duration", "hash")


def parse_shard(text: str) -> Any:
    """``--shard K/N``: e3suite.shard's parser, imported when the option is given."""
    from e3suite.shard import parse_shard as parse

    return parse(text)


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


#: ``--log-lines``: a run's terminal shows a log, and a diff, as their first
#: and last this-many lines (e3suite.reports.terminal.cut_lines).
DEFAULT_LOG_LINES = 50


def shuffle_seed(options: argparse.Namespace) -> int | None:
    """The seed of a ``--shuffle`` run: ``--shuffle-seed``'s, or one drawn now; None when not shuffled."""
    seed: int | None = getattr(options, "shuffle_seed", None)
    if seed is None and getattr(options, "shuffle", False):
        import secrets

        seed = secrets.randbelow(1_000_000)  # six digits at most: easy to read and type again
    return seed


def build_parser(prog: str | None = None, description: str | None = None) -> argparse.ArgumentParser:
    # No abbreviations: `--max-retries 2` was taken for --max-retries-total, in silence.
    parser = argparse.ArgumentParser(prog=prog, description=description, allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"e3suite {__version__}")
    parser.add_argument(
        "tests",
        nargs="*",
        metavar="TEST",
        help="testcases to run: an id, a directory, or a regexp searched in ids (default: all)",
    )

    sel = parser.add_argument_group("selection")
    sel.add_argument("--list", action="store_true", help="print the selected testcase ids and exit")
    sel.add_argument(
        "--failed", "--skip-passed", dest="failed", action="store_true",
        help="run only the testcases that ended FAIL, ERROR or FLAKY in the previous run of this -o directory, "
        "or did not run (a failed dependency, -M, --max-time, Ctrl-C), and what they depend on; the others keep their "
        "previous result, marked as carried over",
    )
    sel.add_argument(
        "--shard", type=parse_shard, default=None, metavar="K/N",
        help="run the K-th of N disjoint parts of the selected testcases (1-based; testcases joined by "
        "dependencies stay together; docs/sharding.md)",
    )
    sel.add_argument(
        "--shard-by", choices=SHARD_METHODS, default="duration",
        help="duration: balance the parts by the previous run's durations (by count without history); "
        "hash: a stable hash of the ids (default: %(default)s)",
    )
    sel.add_argument(
        "--shard-history", metavar="FILE", default=None,
        help="durations to balance the shards with: a file written by `e3suite report DIR --durations FILE` "
        "or a results directory (default: DIR/old of -o); give every CI machine the same one",
    )

    run = parser.add_argument_group("running")
    run.add_argument(
        "-j", "--jobs", type=positive_int, default=default_jobs(), metavar="N",
        help="number of slots (default: the number of CPUs, %(default)s here)",
    )
    run.add_argument(
        "--in-process", action="store_true",
        help="run callbacks in the engine's own process (debugging: breakpoint() works with -j1)",
    )
    run.add_argument(
        "--shuffle", action="store_true",
        help="start the testcases in a random order (dependencies still hold; the order of the previous run's "
        "durations is off), drawn from a seed the run prints",
    )
    run.add_argument(
        "--shuffle-seed", type=non_negative_int, default=None, metavar="SEED",
        help="--shuffle with this seed: the order of a shuffled run again (the same testcases in the same "
        "relative order, whatever else is selected)",
    )
    run.add_argument(
        "--timeout", type=positive_seconds, default=None, metavar="SECONDS",
        help="default timeout of a fragment, in (fractional) seconds (default: none)",
    )
    run.add_argument(
        "--max-time", type=positive_seconds, default=None, metavar="SECONDS",
        help="stop the run this long after its first testcase started: what runs is interrupted (ERROR), "
        "what has not started is not run (SKIP), the reports are written and the run fails; for a CI job "
        "that must end with its reports before the job's own limit kills it",
    )
    run.add_argument(
        "-M", "--max-consecutive-failures", type=positive_int, default=None, metavar="N",
        help="stop scheduling after N consecutive failures",
    )
    run.add_argument(
        "--max-failures", type=positive_int, default=None, metavar="N",
        help="stop scheduling after N failures",
    )
    run.add_argument(
        "--no-tests", choices=("fail", "pass"), default="fail",
        help="a tests directory that holds no testcase: a usage error (exit status 2, so that CI never "
        "passes a run that ran nothing), or a run of nothing that passes (default: %(default)s)",
    )
    run.add_argument(
        "--kill-grace", type=seconds, default=2.0, metavar="SECONDS",
        help="after a timeout or an interruption, how long processes get between SIGTERM and SIGKILL "
        "(default: %(default)s)",
    )
    run.add_argument(
        "--resource", action="append", type=resource_count, default=[], metavar="NAME=COUNT",
        help="a counted resource fragments may hold (resources: in test.yaml), e.g. gpu=2; repeatable; "
        "overrides the testsuite's own count (docs/resources.md)",
    )
    retry = parser.add_argument_group("retries (docs/retries.md)")
    retry.add_argument(
        "--retries", type=non_negative_int, default=None, metavar="N",
        help="try a failing testcase up to N more times, unless its test.yaml says otherwise (retries: N); "
        "default: the driver's own default, 0 for the stock drivers",
    )
    retry.add_argument(
        "--retry-delay", type=seconds, default=0.0, metavar="SECONDS",
        help="wait this long before trying a testcase again (default: %(default)s)",
    )
    retry.add_argument(
        "--retry-backoff", choices=("fixed", "exponential"), default="fixed",
        help="fixed: every retry waits --retry-delay; exponential: the n-th waits 2^(n-1) times that "
        "(default: %(default)s)",
    )
    retry.add_argument(
        "--flaky-result", choices=("pass", "fail"), default="pass",
        help="how a testcase that failed and then passed (FLAKY) counts: as passed, or as failed "
        "(default: %(default)s)",
    )
    retry.add_argument(
        "--max-retries-total", type=non_negative_int, default=None, metavar="N",
        help="once N retries have started in the run, retry nothing more (a broken build must not run "
        "everything several times)",
    )
    run.add_argument(
        "--leak-result", choices=("pass", "fail"), default="pass",
        help="verdict of a testcase that leaves processes running (they are killed and reported either way): "
        "pass keeps its verdict, fail makes it FAIL (default: %(default)s)",
    )
    run.add_argument(
        "--temp-dir", default=None, metavar="DIR",
        help="where working directories are created (default: the system's temporary directory)",
    )
    run.add_argument(
        "--cleanup-mode", choices=("all", "passed", "none"), default="all",
        help="which working directories to delete at the end (default: %(default)s)",
    )
    run.add_argument(
        "--rewrite", action="store_true",
        help="write the actual output of testcases that fail on a baseline difference to their baseline",
    )

    out = parser.add_argument_group("results and output")
    out.add_argument(
        "-o", "--output-dir", default="out", metavar="DIR",
        help="results go to DIR/new; the previous DIR/new becomes DIR/old (default: %(default)s)",
    )
    out.add_argument(
        "-E", "--show-error-output", action=argparse.BooleanOptionalAction, default=None,
        help="print the log of failing testcases (default: on when stdout is not a terminal)",
    )
    out.add_argument(
        "--log-lines", type=non_negative_int, default=DEFAULT_LOG_LINES, metavar="N",
        help="in the terminal, show a testcase's log and its diff as their first and last N lines each, "
        "with a line counting the rest (0: whole; `e3suite report DIR -E` prints them whole; default: %(default)s)",
    )
    verbosity = out.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true", help="print only failures and the summary")
    verbosity.add_argument("-v", "--verbose", action="store_true", help="print the log of every testcase")
    out.add_argument("--no-color", action="store_true", help="never use colours (NO_COLOR is honoured too)")
    out.add_argument(
        "--failure-exit-code", type=exit_code, default=1, metavar="N",
        help="exit code when a testcase fails or errors, 0 to 255 (default: %(default)s)",
    )
    out.add_argument(
        "--progress", choices=("auto", "bar", "lines", "none"), default="auto",
        help="live progress: a status line (bar), periodic lines (lines), none; "
        "auto: bar on a terminal, lines otherwise (default: %(default)s)",
    )
    add_report_options(parser.add_argument_group("reports"))
    add_executor_options(parser)
    return parser


def ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 1.0:  # nan compares false: nothing was ever markedly slower
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number greater than 1")
    return value


def add_report_options(group: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
    """Report options shared by ``testsuite.py`` and ``e3suite report`` (issue 5)."""
    group.add_argument("--junit", metavar="FILE", help="write a JUnit XML report to FILE (- for stdout)")
    group.add_argument("--html", metavar="FILE", help="write a self-contained HTML report to FILE (- for stdout)")
    group.add_argument("--json", metavar="FILE", help="write the JSON report to FILE (- for stdout)")
    group.add_argument(
        "--show-time", action="store_true",
        help="show the duration of each testcase and list the slowest ones",
    )
    group.add_argument(
        "--compare", metavar="OLD_DIR", default=None,
        help="compare with the results directory OLD_DIR (default: DIR/old when present)",
    )
    group.add_argument("--no-compare", action="store_true", help="do not compare with a previous run")
    group.add_argument(
        "--slowdown-threshold", type=ratio, default=2.0, metavar="RATIO",
        help="a testcase RATIO times slower than in the previous run is reported as markedly slower "
        "(and only when slower by 0.5 s at least; default: %(default)s)",
    )
    group.add_argument(
        "--junit-xpass-as-failure", action="store_true",
        help="in JUnit XML, report XPASS (unexpected pass) as a failure rather than a pass",
    )


# -- executors (e3suite.config reads these; docs/distributed.md) -------------------

#: The configuration file beside testsuite.py that declares named executors.
CONFIG_NAME = "e3suite.yaml"
#: Default of ``max_pending_time`` and ``--max-pending-time``, in seconds.
DEFAULT_MAX_PENDING_TIME = 600.0
#: Default of ``--max-worker-failures``.
DEFAULT_MAX_WORKER_FAILURES = 3


class GivenJobs(int):
    """``-j N`` typed on the command line (not the default): Dask executors keep it as their window."""


def _given_jobs(text: str) -> GivenJobs:
    return GivenJobs(positive_int(text))


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    """The options that choose where fragments run (e3suite.config reads them)."""
    jobs = parser._option_string_actions.get("--jobs")
    if jobs is not None:
        jobs.type = _given_jobs
    group = parser.add_argument_group("executors (see docs/distributed.md)")
    group.add_argument(
        "--config", metavar="FILE", help=f"the configuration file (default: {CONFIG_NAME} beside testsuite.py)"
    )
    choice = group.add_mutually_exclusive_group()
    choice.add_argument(
        "--executor", metavar="NAME", help="run on the executor NAME of the configuration (default: local)"
    )
    choice.add_argument(
        "--dask", action="store_true",
        help="run on a Dask LocalCluster with one worker per CPU (or the executor named 'dask' of the configuration)",
    )
    choice.add_argument(
        "--dask-scheduler", metavar="ADDRESS", help="run on the workers of an existing Dask scheduler (left running)"
    )
    group.add_argument(
        "--max-worker-failures", type=positive_int, default=DEFAULT_MAX_WORKER_FAILURES, metavar="N",
        help="a fragment whose worker dies is tried on N workers at most (default: %(default)s)",
    )
    group.add_argument(
        "--max-pending-time", type=seconds, default=None, metavar="SECONDS",
        help="a fragment no worker can take gets ERROR after this long "
        f"(default: the configuration's max_pending_time, else {DEFAULT_MAX_PENDING_TIME:g})",
    )
