"""e3suite.compat.e3testsuite: real e3-testsuite testsuites, and what the layer maps.

The real testsuites of tests/compat/real-suites run under e3-testsuite 27.x
(installed from PyPI by the test extra) and under ``e3suite e3``: same
results, same verdicts, nothing left running. The other tests pin what the
layer maps rather than copies: closures and unpicklable callbacks in
threads and in forked workers, several results per testcase, exceptions
handed to dependants, refusals that name what is refused.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from types import ModuleType

import pytest

import e3suite.store as store

ROOT = Path(__file__).resolve().parents[2]
REAL_SUITES = ROOT / "tests" / "compat" / "real-suites"


def _load_compare() -> ModuleType:
    spec = importlib.util.spec_from_file_location("e3compat_compare", REAL_SUITES / "compare.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compare = _load_compare()
e3_testsuite_installed = importlib.util.find_spec("e3.testsuite") is not None


@pytest.mark.skipif(not e3_testsuite_installed, reason="e3-testsuite 27.x is in the test extra")
@pytest.mark.parametrize("suite", compare.SUITES)
def test_real_testsuite_same_verdicts(suite: str, tmp_path: Path) -> None:
    e3, e3_wall, e3_status, _ = compare.run(suite, "e3-testsuite", 2, tmp_path)
    ours, our_wall, our_status, leaked = compare.run(suite, "e3suite", 2, tmp_path)
    print(f"{suite}: e3-testsuite {e3_wall:.2f} s, e3suite e3 {our_wall:.2f} s")
    assert e3, "e3-testsuite produced no result"
    assert ours == e3
    assert (our_status != 0) == (e3_status != 0)
    assert leaked == []


def _e3(script: Path, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "e3suite", "e3", str(script), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )


def _records(out: Path) -> dict[str, dict]:
    return store.load_records(out / "new")


MAPPED_SUITE = '''
import sys, threading
from e3.testsuite import Testsuite
from e3.testsuite.driver import TestDriver
from e3.testsuite.result import TestResult, TestStatus


class Mapped(TestDriver):
    """Lambdas, closures, a bound method holding a lock, results of their own, an exception."""

    def add_test(self, dag):
        self.lock = threading.Lock()  # unpicklable: the driver cannot travel
        self.add_fragment(dag, "make", lambda prev, slot: {"value": 21})
        for n in (1, 2):
            self.add_fragment(dag, f"check{n}", self.checker(n), after=["make"])
        self.add_fragment(dag, "explode", after=["make"])
        self.add_fragment(dag, "after_explode", after=["explode"])

    def checker(self, n):
        def check(prev, slot):
            with self.lock:
                result = TestResult(f"{self.test_name}.check{n}", env=self.test_env)
                result.set_status(TestStatus.PASS if prev["make"]["value"] * 2 == 42 else TestStatus.FAIL)
                self.push_result(result)
        return check

    def explode(self, prev, slot):
        raise ValueError("boom")

    def after_explode(self, prev, slot):
        handed = prev["explode"]
        self.result.set_status(
            TestStatus.PASS if isinstance(handed, ValueError) else TestStatus.FAIL, type(handed).__name__
        )
        self.push_result()


class One(TestDriver):
    def add_test(self, dag):
        self.add_fragment(dag, "only", lambda prev, slot: self.done(slot))

    def done(self, slot):
        self.result.set_status(TestStatus.PASS, f"slot {slot}")
        self.push_result()


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"mapped": Mapped, "one": One}


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


def _mapped_suite(tmp_path: Path) -> Path:
    root = tmp_path / "suite"
    for name, driver in (("mapped", "mapped"), ("one", "one")):
        (root / "tests" / name).mkdir(parents=True)
        (root / "tests" / name / "test.yaml").write_text(f"driver: {driver}\n")
    (root / "testsuite.py").write_text(textwrap.dedent(MAPPED_SUITE))
    return root / "testsuite.py"


@pytest.mark.parametrize("mode", ["threads", "workers"])
def test_closures_results_and_exceptions_are_mapped(mode: str, tmp_path: Path) -> None:
    script = _mapped_suite(tmp_path)
    args = ["-o", str(tmp_path / "out"), "-j2"] + (["--force-multiprocessing"] if mode == "workers" else [])
    proc = _e3(script, *args, cwd=tmp_path)
    records = _records(tmp_path / "out")
    # e3-testsuite's results: the two checks, the error of the fragment that
    # raised (named after it), and the dependant that received the exception;
    # each pushed result is an e3suite result of its own, under the testcase.
    assert set(records) == {"mapped", "mapped/check1", "mapped/check2", "mapped/explode", "one"}, proc.stderr
    by_e3_name = {r["info"]["e3_name"]: r["status"] for r in records.values() if r["id"].startswith("mapped")}
    assert by_e3_name == {"mapped.check1": "PASS", "mapped.check2": "PASS", "mapped.explode": "ERROR", "mapped": "PASS"}
    assert records["mapped/explode"]["status"] == "ERROR"
    assert "ValueError: boom" in records["mapped/explode"]["log"]
    assert records["mapped"]["message"] == "ValueError"  # the dependant got the exception
    assert records["one"]["status"] == "PASS" and records["one"]["message"] in ("slot 0", "slot 1")
    assert proc.returncode == 1


def test_alias_wins_over_installed_e3_testsuite() -> None:
    code = textwrap.dedent('''
        import e3.testsuite  # the real one, when installed
        from e3suite.compat.e3testsuite import importer
        importer.install()
        import e3.testsuite.driver.classic as classic
        from e3.testsuite import Testsuite
        import e3suite.compat.e3testsuite as compat
        assert Testsuite is compat.Testsuite, Testsuite
        assert classic.ClassicTestDriver.__module__ == "e3suite.compat.e3testsuite.driver.classic"
        try:
            import e3.testsuite.report.gaia
        except ImportError as exc:
            print(exc)
    ''')
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "module e3.testsuite.report is not supported by e3suite" in proc.stdout


def test_port_by_import_lines(tmp_path: Path) -> None:
    """Way (a): only the import lines change; the script runs with plain python."""
    suite = tmp_path / "bc"
    subprocess.run(["cp", "-r", str(REAL_SUITES / "bc"), str(suite)], check=True)
    script = suite / "testsuite.py"
    script.write_text(script.read_text().replace("from e3.testsuite", "from e3suite.compat.e3testsuite"))
    proc = subprocess.run(
        [sys.executable, str(script), "-o", str(tmp_path / "out"), "-j2"], capture_output=True, text=True, timeout=120
    )
    statuses = {k: r["status"] for k, r in _records(tmp_path / "out").items()}
    assert statuses == {"addition": "PASS", "subtraction": "PASS", "multiplication": "XFAIL", "division": "FAIL"}
    assert proc.returncode == 1, proc.stderr


@pytest.mark.parametrize("option", ["--gaia-output", "--skip-passed"])
def test_unsupported_option_is_refused_by_name(option: str, tmp_path: Path) -> None:
    proc = _e3(REAL_SUITES / "bc" / "testsuite.py", option, "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 2
    assert f"the {option} option is not supported" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unsupported_module_is_refused_by_name(tmp_path: Path) -> None:
    script = tmp_path / "testsuite.py"
    script.write_text("from e3.testsuite.driver.adacore import AdaCoreLegacyTestDriver\n")
    proc = _e3(script, cwd=tmp_path)
    assert proc.returncode != 0
    assert "module e3.testsuite.driver.adacore is not supported" in proc.stderr


LEAKY_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver.classic import ClassicTestDriver


class Leaky(ClassicTestDriver):
    def run(self):
        self.shell(["sh", "-c", "sleep 300 & echo started"], timeout=int(self.test_env.get("t", 60)))
        if self.test_env.get("hang"):
            self.shell(["sh", "-c", "sleep 300 & sleep 300"], timeout=1)


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"leaky": Leaky}
    default_driver = "leaky"


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


@pytest.mark.parametrize("jobs", ["-j0", "-j2"])
def test_nothing_a_testcase_started_survives(jobs: str, tmp_path: Path) -> None:
    (tmp_path / "tests" / "leaves_a_child").mkdir(parents=True)
    (tmp_path / "tests" / "leaves_a_child" / "test.yaml").write_text("{}\n")
    (tmp_path / "tests" / "times_out").mkdir(parents=True)
    (tmp_path / "tests" / "times_out" / "test.yaml").write_text("hang: true\n")
    (tmp_path / "testsuite.py").write_text(textwrap.dedent(LEAKY_SUITE))
    mark = uuid.uuid4().hex
    env = dict(os.environ, **{compare.MARK: mark})
    proc = _e3(tmp_path / "testsuite.py", "-o", str(tmp_path / "out"), jobs, cwd=tmp_path, env=env)
    records = _records(tmp_path / "out")
    assert records["leaves_a_child"]["status"] == "PASS", proc.stderr
    assert records["times_out"]["status"] == "FAIL"
    assert "rlimit: Real time limit (1 s) exceeded" in records["times_out"]["log"]
    assert compare.leftovers(mark) == []


def test_scheduler_runs_a_dag_event_driven(tmp_path: Path) -> None:
    from e3.collection.dag import DAG

    from e3suite.compat.e3testsuite.multiprocess_scheduler import MultiprocessScheduler, Worker

    class Touch(Worker):
        def start(self) -> subprocess.Popen[bytes]:
            return subprocess.Popen(["sh", "-c", f"sleep 0.01; touch {tmp_path / self.uid}"])

    dag = DAG()
    for i in range(30):
        dag.add_vertex(f"v{i}", data=i, predecessors=[f"v{i - 1}"] if i % 5 else [])
    order: list[str] = []

    def collect(worker: Worker) -> None:
        previous = int(worker.uid[1:]) - 1
        if int(worker.uid[1:]) % 5:
            assert (tmp_path / f"v{previous}").exists()  # its predecessor ended first
        order.append(worker.uid)

    scheduler = MultiprocessScheduler(dag, lambda uid, data, slot: Touch(uid, None, "", slot, None), collect, jobs=0)
    assert scheduler.parallelism >= 1
    scheduler.run()
    assert sorted(order) == sorted(f"v{i}" for i in range(30))
    assert scheduler.active_workers == 0


THREADED_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver import BasicTestDriver
from e3.testsuite.driver.classic import ClassicTestDriver
from e3.testsuite.result import TestStatus


class Sleeper(BasicTestDriver):
    """Four fragments sharing driver state: they run in threads of the engine."""

    def run(self, prev, slot):
        self.runner = Runner(self.env, self.test_env)
        self.runner.result = self.result
        self.runner.output = ""
        self.runner.shell(["sh", "-c", "sleep 300 & sleep 300"], cwd=self.test_dir(), catch_error=False)

    def analyze(self, prev, slot):
        self.result.set_status(TestStatus.PASS)
        self.push_result()


class Runner(ClassicTestDriver):
    pass


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"sleeper": Sleeper}
    default_driver = "sleeper"


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


def test_interrupting_threads_leaves_nothing_running(tmp_path: Path) -> None:
    import signal
    import time

    for name in ("a", "b"):
        (tmp_path / "tests" / name).mkdir(parents=True)
        (tmp_path / "tests" / name / "test.yaml").write_text("{}\n")
    (tmp_path / "testsuite.py").write_text(textwrap.dedent(THREADED_SUITE))
    mark = uuid.uuid4().hex
    env = dict(os.environ, **{compare.MARK: mark})
    proc = subprocess.Popen(
        [sys.executable, "-m", "e3suite", "e3", str(tmp_path / "testsuite.py"), "-o", str(tmp_path / "out"), "-j2"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # both testcases' commands started
            sleeping = [p for p in _marked(mark) if p.name() == "sleep" and p.ppid() != 1]
            if len(sleeping) >= 4:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output
    assert {r["status"] for r in _records(tmp_path / "out").values()} == {"ERROR"}
    assert compare.leftovers(mark) == []


def _marked(mark: str) -> list:
    import psutil

    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get(compare.MARK) == mark:
                found.append(p)
        except (psutil.Error, OSError):
            continue
    return found


def test_served_even_when_the_real_e3_testsuite_cannot_be_imported(tmp_path: Path) -> None:
    """A broken e3.testsuite first on sys.path is never looked at: the alias wins."""
    fake = tmp_path / "site" / "e3" / "testsuite"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('the real e3-testsuite was imported')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), str(ROOT)]))
    proc = _e3(REAL_SUITES / "bc" / "testsuite.py", "-o", str(tmp_path / "out"), cwd=tmp_path, env=env)
    assert "the real e3-testsuite was imported" not in proc.stdout + proc.stderr
    assert {k: r["status"] for k, r in _records(tmp_path / "out").items()}["addition"] == "PASS"


def test_scheduler_stops_after_too_many_consecutive_failures() -> None:
    from e3.collection.dag import DAG

    from e3suite.compat.e3testsuite.multiprocess_scheduler import MultiprocessScheduler, Worker
    from e3suite.compat.e3testsuite.result import TestResult, TestStatus
    from e3suite.compat.e3testsuite.running_status import RunningStatus

    class Fails(Worker):
        def start(self) -> subprocess.Popen[bytes]:
            return subprocess.Popen(["false"])

    dag = DAG()
    for i in range(20):
        dag.add_vertex(f"v{i}", data=i, predecessors=[f"v{i - 1}"] if i else [])
    status = RunningStatus("/dev/null", max_consecutive_failures=3)
    status.set_dag(dag)
    collected: list[str] = []

    def collect(worker: Worker) -> None:
        collected.append(worker.uid)
        status.process_result(TestResult(worker.uid, status=TestStatus.FAIL).summary)

    MultiprocessScheduler(
        dag, lambda uid, data, slot: Fails(uid, None, "", slot, None), collect, status, jobs=2
    ).run()
    assert collected == ["v0", "v1", "v2"]
    assert status.aborted_too_many_failures


RUN_SUITE = '''
import sys
from e3.os.process import Run
from e3.testsuite import Testsuite
from e3.testsuite.driver import TestDriver
from e3.testsuite.result import TestStatus


class Direct(TestDriver):
    """Two fragments sharing state (threads of the engine), commands by e3.os.process.Run."""

    def add_test(self, dag):
        self.add_fragment(dag, "build")
        self.add_fragment(dag, "check", after=["build"])

    def build(self, prev, slot):
        self.status = Run(["sh", "-c", "sleep 300 & sleep 300"]).status

    def check(self, prev, slot):
        self.result.set_status(TestStatus.PASS if self.status == 0 else TestStatus.FAIL)
        self.push_result()


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"direct": Direct}
    default_driver = "direct"


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL of the engine alone"])
def test_commands_not_started_by_shell_die_with_a_threaded_run(how: str, tmp_path: Path) -> None:
    """What a callback started itself (e3.os.process.Run) carries the engine's tag and dies with the run."""
    import signal
    import time

    for name in ("a", "b"):
        (tmp_path / "tests" / name).mkdir(parents=True)
        (tmp_path / "tests" / name / "test.yaml").write_text("{}\n")
    (tmp_path / "testsuite.py").write_text(textwrap.dedent(RUN_SUITE))
    mark = uuid.uuid4().hex
    env = dict(os.environ, **{compare.MARK: mark})
    proc = subprocess.Popen(
        [sys.executable, "-m", "e3suite", "e3", str(tmp_path / "testsuite.py"), "-o", str(tmp_path / "out"), "-j2"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # both testcases' commands started
            if len([p for p in _marked(mark) if _name(p) == "sleep"]) >= 4:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the commands never started")
        proc.send_signal(signal.SIGINT if how == "SIGINT" else signal.SIGKILL)
        proc.communicate(timeout=60)
        deadline = time.monotonic() + 30
        left = _live_marked(mark)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = _live_marked(mark)
    finally:
        if proc.poll() is None:
            proc.kill()
        killed = compare.leftovers(mark)  # never leave them to the next tests
    assert left == [], f"still running 30 s after the run ended: {killed}"


def _name(proc: object) -> str | None:
    """Its name, or None when it ended while we looked (a shell between two commands)."""
    import psutil

    try:
        return proc.name()  # type: ignore[attr-defined,no-any-return]
    except psutil.Error:
        return None


def _live_marked(mark: str) -> list:
    import psutil

    live = []
    for p in _marked(mark):
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                live.append(p)
        except psutil.Error:
            continue
    return live


FAILING_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver.classic import ClassicTestDriver


class Fails(ClassicTestDriver):
    def run(self):
        self.shell(["sh", "-c", "echo the-log-line; exit 3"])


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"fails": Fails}
    default_driver = "fails"


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


@pytest.mark.parametrize("option", [None, "-E", "--show-error-output"])
def test_logs_of_failures_are_printed_only_with_show_error_output(option: str | None, tmp_path: Path) -> None:
    """As under e3-testsuite: without -E only the result line, whatever stdout is (here a pipe)."""
    (tmp_path / "tests" / "broken").mkdir(parents=True)
    (tmp_path / "tests" / "broken" / "test.yaml").write_text("{}\n")
    (tmp_path / "testsuite.py").write_text(textwrap.dedent(FAILING_SUITE))
    args = [option] if option else []
    proc = _e3(tmp_path / "testsuite.py", "-o", str(tmp_path / "out"), *args, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL   broken: non-zero status code" in proc.stdout
    assert ("the-log-line" in proc.stdout) == (option is not None), proc.stdout


DOT_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver.classic import ClassicTestDriver


class Cat(ClassicTestDriver):
    def run(self):
        self.shell(["cat", "data.txt"])


class Suite(Testsuite):
    test_driver_map = {"cat": Cat}  # tests_subdir is e3-testsuite's ".": the temporaries are in the tree
    default_driver = "cat"


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


@pytest.mark.parametrize("temp", [["--dev-temp"], ["-t", ".", "--cleanup-mode", "none"]])
def test_kept_working_directories_are_not_found_as_testcases(temp: list[str], tmp_path: Path) -> None:
    """Working directories kept in the tests tree by a run are not testcases of the next run."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "test.yaml").write_text("{}\n")
        (tmp_path / name / "data.txt").write_text("data\n")
    (tmp_path / "testsuite.py").write_text(textwrap.dedent(DOT_SUITE))
    for _ in range(2):
        proc = _e3(tmp_path / "testsuite.py", *temp, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert sorted(_records(tmp_path / "out")) == ["a", "b"], proc.stdout


REPORTING_SUITE = '''
import sys
from e3.testsuite import Testsuite
from e3.testsuite.driver.classic import ClassicTestDriver
from e3.testsuite.result import TestStatus


class Timed(ClassicTestDriver):
    def run(self):
        self.status = self.shell(["sh", "-c", self.test_env["cmd"]], catch_error=False).status
        self.result.info["time"] = "1.5 2.5"

    def compute_failures(self):
        return ["bad status"] if self.status else []


class Suite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"timed": Timed}
    default_driver = "timed"

    def tear_down(self):
        # What testsuites of AdaCore's (lkql_checker's perf_report) do at the end.
        for name, entry in sorted(self.report_index.entries.items()):
            print(f"report: {name} {entry.status.name} {entry.msg} {entry.info.get('time')}")
        print("report: failures", self.report_index.status_counters[TestStatus.FAIL], self.test_counter)
        print("report: dirs", bool(self.working_dir), self.output_dir.endswith("new"))
        super().tear_down()


if __name__ == "__main__":
    sys.exit(Suite().testsuite_main())
'''


def test_tear_down_reads_the_report_index(tmp_path: Path) -> None:
    """``self.report_index`` (and working_dir, output_dir) hold the run's results in tear_down."""
    (tmp_path / "tests" / "a").mkdir(parents=True)
    (tmp_path / "tests" / "a" / "test.yaml").write_text('cmd: "true"\n')
    (tmp_path / "tests" / "sub" / "b").mkdir(parents=True)
    (tmp_path / "tests" / "sub" / "b" / "test.yaml").write_text('cmd: "false"\n')
    (tmp_path / "testsuite.py").write_text(textwrap.dedent(REPORTING_SUITE))
    proc = _e3(tmp_path / "testsuite.py", "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert [line for line in proc.stdout.splitlines() if line.startswith("report: ")] == [
        "report: a PASS None 1.5 2.5",
        "report: sub__b FAIL bad status 1.5 2.5",
        "report: failures 1 2",
        "report: dirs True True",
    ], proc.stdout + proc.stderr


def test_an_unsupported_module_is_one_line_naming_it_and_where(tmp_path: Path) -> None:
    """The docs promise one line, never a traceback from inside: the ImportError's traceback came
    through e3suite's cli, runpy and the import alias (exit status 1)."""
    (tmp_path / "drivers.py").write_text("import os\nfrom e3.testsuite.report.gaia import dump_gaia_report\n")
    script = tmp_path / "testsuite.py"
    script.write_text("import sys\nimport drivers\n")
    proc = _e3(script, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        "e3suite: error: module e3.testsuite.report is not supported by e3suite's e3-testsuite compatibility"
        f" layer (see docs/migrating-from-e3-testsuite.md), imported at {tmp_path / 'drivers.py'}:2"
    ], proc.stderr


def test_a_script_that_raises_shows_its_own_traceback_as_python_does(tmp_path: Path) -> None:
    """An error of the script itself (at import time, before testsuite_main) came with e3suite's
    frames first (cli.py, command.py, runpy): the traceback is the script's, as `python` prints it."""
    script = tmp_path / "testsuite.py"
    script.write_text("import sys\n\ndef broken():\n    raise RuntimeError('module level')\n\nbroken()\n")
    proc = _e3(script, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    real = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.stderr == real.stderr
    (tmp_path / "bad.py").write_text("def x(:\n")
    proc = _e3(tmp_path / "bad.py", cwd=tmp_path)
    real = subprocess.run([sys.executable, str(tmp_path / "bad.py")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert (proc.returncode, proc.stderr) == (1, real.stderr)


def test_a_driver_asking_for_test_opt_files_is_refused_by_name_at_once(tmp_path: Path) -> None:
    """AdaCoreLegacyTestControlCreator is made by the driver's test_control_creator property,
    which ClassicTestDriver reads in its run fragment: every testcase ran and was an ERROR named
    'a.run_wrapper', the refusal deep in its log. The docs promise one line before anything starts."""
    from compat_support import SUITE, make_suite

    legacy = "from e3.testsuite.control import AdaCoreLegacyTestControlCreator"
    source = SUITE.replace("class Shell(ClassicTestDriver):", legacy + '''


class Shell(ClassicTestDriver):
    @property
    def test_control_creator(self):
        return AdaCoreLegacyTestControlCreator(["linux"])
''')
    script = make_suite(tmp_path, source, {"a": 'cmd: "touch ran"\n'})
    proc = _e3(script, "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        "e3suite: error: e3.testsuite.control.AdaCoreLegacyTestControlCreator (test.opt files) is not supported"
        " by e3suite's e3-testsuite compatibility layer (see docs/migrating-from-e3-testsuite.md)"
    ), proc.stderr
    assert not list(tmp_path.rglob("ran"))
