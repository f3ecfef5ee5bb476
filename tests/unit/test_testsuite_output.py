"""What happens to a run when its reader goes away (``./testsuite.py | head``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_closed_stdout_stops_the_output_not_the_run(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    (suite / "tests").mkdir(parents=True)
    (suite / "testsuite.py").write_text((ROOT / "drivers" / "sample_suite.py").read_text())
    for i in range(40):
        # Slow enough that most lines come after the reader is gone.
        (suite / "tests" / f"t{i:02d}").mkdir()
        (suite / "tests" / f"t{i:02d}" / "test.yaml").write_text(
            "fragments: [{name: run, sleep: 0.05, status: PASS}]\n"
        )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # `| head -1`: the pipe closes after the first line.
    proc = subprocess.Popen([sys.executable, "testsuite.py", "-j2", "--progress", "none"], cwd=suite, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert first.startswith(b"PASS")
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
    index = json.loads((suite / "out" / "new" / "index.json").read_text())
    assert len(index["results"]) == 40


def test_testsuite_itself_finds_its_tests_beside_the_script(tmp_path: Path) -> None:
    """``Testsuite().main()`` with no subclass: the tests are beside the script, wherever it runs from."""
    suite = tmp_path / "suite"
    (suite / "tests" / "hello").mkdir(parents=True)
    (suite / "tests" / "hello" / "test.yaml").write_text("description: x\n")
    (suite / "testsuite.py").write_text(
        "import sys\nfrom e3suite import Testsuite\nsys.exit(Testsuite().main())\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(suite / "testsuite.py"), "--list"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "hello\n", "")


def test_a_profiler_running_the_script_finds_its_tests(tmp_path: Path) -> None:
    """``python -m cProfile testsuite.py``: cProfile stays ``__main__``, the tests are beside the script."""
    suite = tmp_path / "suite"
    (suite / "tests" / "hello").mkdir(parents=True)
    (suite / "tests" / "hello" / "test.yaml").write_text("driver: shell\ncmd: [true]\n")
    (suite / "testsuite.py").write_text((ROOT / "drivers" / "sample_suite.py").read_text())
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    stats = tmp_path / "run.prof"
    proc = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(stats), "testsuite.py", "-q"], cwd=suite,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    index = json.loads((suite / "out" / "new" / "index.json").read_text())
    assert [(e["test"], e["status"]) for e in index["results"]] == [("hello", "PASS")]
    assert stats.stat().st_size > 0


def test_a_testcase_directory_whose_name_is_not_utf8_runs_and_is_reported(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    test_dir = suite / "tests" / os.fsdecode(b"caf\xe9")
    test_dir.mkdir(parents=True)
    (test_dir / "test.yaml").write_text("driver: shell\ncmd: [true]\n")
    (suite / "testsuite.py").write_text((ROOT / "drivers" / "sample_suite.py").read_text())
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "testsuite.py", "-j1", "--progress", "none", "--junit", "junit.xml"],
                          cwd=suite, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS   caf\\xe9\n" in proc.stdout
    index = json.loads((suite / "out" / "new" / "index.json").read_text())
    assert [r["test"] for r in index["results"]] == ["caf\\xe9"]
    assert 'name="caf\\xe9"' in (suite / "junit.xml").read_text()


def test_listings_stop_quietly_when_their_reader_goes_away(tmp_path: Path) -> None:
    """``--list | head``, ``e3suite status | head``: no broken-pipe traceback, the status of a SIGPIPE'd tool."""
    suite = tmp_path / "suite"
    for i in range(3):
        (suite / "tests" / f"t{i}").mkdir(parents=True)
        (suite / "tests" / f"t{i}" / "test.yaml").write_text("driver: shell\ncmd: [true]\n")
    (suite / "testsuite.py").write_text((ROOT / "drivers" / "sample_suite.py").read_text())
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    assert subprocess.run([sys.executable, "testsuite.py", "-q"], cwd=suite, env=env, timeout=120).returncode == 0
    commands = [
        [sys.executable, "testsuite.py", "--list"],
        [sys.executable, "-m", "e3suite", "status", "out", "--json"],
        [sys.executable, "-m", "e3suite", "report", "out", "--json", "-"],
    ]
    for argv in commands:
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before the first line
        try:
            proc = subprocess.run(argv, cwd=suite, env=env, stdout=write_end, stderr=subprocess.PIPE, text=True,
                                  timeout=120)
        finally:
            os.close(write_end)
        assert "Traceback" not in proc.stderr and "Broken pipe" not in proc.stderr, (argv, proc.stderr)
        assert proc.returncode == 141, (argv, proc.returncode, proc.stderr)
