"""Option values that make no sense are refused when parsed (exit 2), with the reason."""

from __future__ import annotations

import pytest

from e3suite.options import build_parser


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timeout", "0"], "argument --timeout: '0' must be more than 0 (leave the option out for no timeout)"),
        (["--timeout", "inf"], "argument --timeout: 'inf' is not a finite number of seconds"),
        (["--timeout", "nan"], "argument --timeout: 'nan' is not a finite number of seconds"),
        (["--timeout", "-1"], "argument --timeout: '-1' must not be negative"),
        (["--kill-grace", "nan"], "argument --kill-grace: 'nan' is not a finite number of seconds"),
        (["--failure-exit-code", "256"], "argument --failure-exit-code: '256' must be from 0 to 255"),
        (["--failure-exit-code", "-1"], "argument --failure-exit-code: '-1' must be from 0 to 255"),
        (["--failure-exit-code", "x"], "argument --failure-exit-code: 'x' is not an integer"),
    ],
)
def test_refused(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser("testsuite.py").parse_args(args)
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"testsuite.py: error: {message}"


def test_accepted() -> None:
    options = build_parser().parse_args(["--timeout", "0.5", "--kill-grace", "0", "--failure-exit-code", "255"])
    assert (options.timeout, options.kill_grace, options.failure_exit_code) == (0.5, 0.0, 255)
    assert build_parser().parse_args(["--failure-exit-code", "0"]).failure_exit_code == 0


def test_an_abbreviated_option_is_refused_not_taken_for_another() -> None:
    """`--max-retries 2` is no option: argparse took it for --max-retries-total, in silence."""
    import pytest

    from e3suite.options import build_parser

    parser = build_parser(prog="testsuite.py")
    for argv in (["--max-retries", "2"], ["--show-t"], ["--shuffle-s", "3"]):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
    options = parser.parse_args(["-qE", "--max-retries-total=2"])  # short options still group
    assert options.quiet and options.show_error_output and options.max_retries_total == 2
