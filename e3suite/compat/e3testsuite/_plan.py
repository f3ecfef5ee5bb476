"""From an e3-testsuite testsuite to e3suite testcases: find, instantiate, map the DAG.

``find_tests`` walks the tests directory (or the directories and patterns
given on the command line) with the testsuite's ``test_finders``, as
e3-testsuite 27.x does. ``build_cases`` instantiates the drivers, lets
them fill one ``e3.collection.dag.DAG`` (``add_test``), calls the
testsuite's ``adjust_dag_dependencies``, and turns every vertex into an
e3suite fragment declaration of the ``E3Testcase`` adapter driver (in
``_bridge.PLANNED``). A problem with one testcase becomes that
testcase's error (ERROR verdict), never an exception. This module must
never run a fragment.
"""

from __future__ import annotations

import os
import re
import tempfile
import traceback
from pathlib import Path
from typing import Any

from e3.collection.dag import DAG

import e3suite.compat.e3testsuite._bridge as _bridge
from e3suite.compat.e3testsuite.fragment import FragmentData
from e3suite.compat.e3testsuite.testcase_finder import ParsedTest, ProbingError
from e3suite.compat.e3testsuite.unsupported import Unsupported, refuse
from e3suite.compat.e3testsuite.utils import safe_dir_walk
from e3suite.discovery import Testcase
from e3suite.driver import TestDriver as E3suiteDriver

SKIPPED_DIRS = (".git", ".svn", "CVS")
#: how e3suite names a run's working root (tempfile.mkdtemp in e3suite.testsuite)
WORKING_ROOT_PREFIX = "e3suite-"


class E3Testcase(E3suiteDriver):
    """The e3suite driver of every e3-testsuite testcase: declares what the bridge planned."""

    def add_fragments(self) -> None:
        for name, callback, after in _bridge.PLANNED[self.test_id]:
            self.add_fragment(name, callback, after)


def find_tests(
    testsuite: Any, sublist: list[str], temp_dir: str | None = None
) -> tuple[list[ParsedTest], list[tuple[str, str, str]]]:
    """(tests found, (name, directory, error) of probing errors and duplicates).

    The working roots of earlier runs (``e3suite-*`` in ``temp_dir``, the
    directory e3suite makes them in) are never searched: kept ones
    (``--dev-temp``, ``--cleanup-mode none``) hold copies of testcases, which
    a tests directory that contains ``temp_dir`` (``tests_subdir = "."``
    and ``--dev-temp``) would find again at every run. e3-testsuite empties
    its fixed temporary directory before it searches; e3suite never
    deletes there what is not its own.
    """
    working_parent = os.path.abspath(temp_dir or tempfile.gettempdir())
    found: dict[str, ParsedTest] = {}
    errors: list[tuple[str, str, str]] = []
    finders = testsuite.test_finders

    def add(pattern: re.Pattern[str] | None, test: ParsedTest) -> None:
        if test.test_matcher and pattern is not None and not pattern.search(test.test_matcher):
            return
        known = found.get(test.test_name)
        if known is None:
            found[test.test_name] = test
        elif _where(known) != _where(test):
            errors.append((test.test_name, test.test_dir, f"duplicate test name: {test.test_name}"))
        # else the same testcase, named twice on the command line (`xf tests/xf`): run once. e3-testsuite
        # ran it once too, but reported two ERRORs "duplicate test name" and one "cannot push twice".

    def walk(spec: str) -> None:
        pattern: re.Pattern[str] | None = None
        if os.path.isdir(spec):
            root = spec
        else:
            root = testsuite.test_dir
            try:
                pattern = re.compile(spec)
            except re.error:
                pattern = re.compile(re.escape(spec))
        for dirpath, dirnames, filenames in safe_dir_walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
            matches = pattern is None or bool(pattern.search(dirpath))
            dirpath = os.path.abspath(dirpath)
            if dirpath == working_parent:
                dirnames[:] = [d for d in dirnames if not d.startswith(WORKING_ROOT_PREFIX)]
            for finder in finders:
                if finder.test_dedicated_directory and not matches:
                    continue
                try:
                    probed = finder.probe(testsuite, dirpath, dirnames, filenames)
                except ProbingError as exc:
                    error = (testsuite.test_name(dirpath), dirpath, probing_message(exc))
                    if error not in errors:  # a directory named twice on the command line
                        errors.append(error)
                    break
                if isinstance(probed, list):
                    for test in probed:
                        add(pattern, test)
                    break
                if probed is not None:
                    add(pattern, probed)
                    break

    for spec in sublist or [testsuite.test_dir]:
        walk(spec)
    return list(found.values()), errors


def _where(test: ParsedTest) -> tuple[str, str | None]:
    """What makes a testcase itself: its directory and, among those of that directory, its matcher."""
    return os.path.abspath(test.test_dir), test.test_matcher


def probing_message(exc: ProbingError) -> str:
    """A probing error's message, with where its cause points (``invalid syntax for test.yaml: FILE:3:7: ...``).

    e3-testsuite keeps that in the traceback it logs; an e3suite error has
    no log, and "invalid syntax" alone does not say which line to fix.
    """
    cause = exc.__cause__
    while cause is not None and cause.__cause__ is not None:
        cause = cause.__cause__  # e3-core's YamlError wraps PyYAML's, which has the position
    if cause is None:
        return str(exc)
    mark = getattr(cause, "problem_mark", None)
    problem = getattr(cause, "problem", None)
    if mark is not None and problem:
        detail = f"{mark.name}:{mark.line + 1}:{mark.column + 1}: {problem}"
    elif isinstance(cause, OSError) and cause.strerror:
        detail = f"{cause.filename}: {cause.strerror}" if cause.filename else cause.strerror
    else:
        detail = " ".join(str(cause).split())
    return f"{exc}: {detail}" if detail else str(exc)


def test_id_for(testsuite: Any, test_name: str, test_dir: str) -> str:
    """e3suite's id: the directory below the tests directory, when the name is derived from it."""
    if testsuite.test_name(test_dir) == test_name:
        rel = os.path.relpath(test_dir, testsuite.test_dir).replace(os.sep, "/")
        if rel != "." and not rel.startswith("../"):
            return rel
    return test_name


def build_cases(
    testsuite: Any, tests: list[ParsedTest], errors: list[tuple[str, str, str]], working_root: Path
) -> list[Testcase]:
    """The e3suite testcases of ``tests``, fragments declared in ``_bridge.PLANNED``."""
    _bridge.reset()
    cases: dict[str, Testcase] = {}
    ids: dict[str, str] = {}  # e3 test name -> e3suite id
    drivers: dict[int, str] = {}  # id(driver) -> e3suite id

    def new_case(test_name: str, test_dir: str, error: str | None = None) -> Testcase:
        test_id = test_id_for(testsuite, test_name, test_dir)
        if test_id in cases:
            test_id = test_name
        while test_id in cases:
            test_id += "~"
        case = Testcase(test_id, Path(test_dir), {}, E3Testcase, error=error)
        cases[test_id] = case
        ids.setdefault(test_name, test_id)
        return case

    for name, test_dir, message in errors:
        new_case(name, test_dir, message)
    dag = DAG()
    for parsed in tests:
        case = new_case(parsed.test_name, parsed.test_dir)
        test_env = dict(parsed.test_env)
        test_env["test_dir"] = parsed.test_dir
        test_env["test_name"] = parsed.test_name
        # e3-testsuite's: named after the test name (group__one), so a driver's
        # os.mkdir(self.working_dir()) works and env.working_dir/test_name finds it.
        test_env["working_dir"] = os.path.join(str(working_root), parsed.test_name)
        driver_cls = parsed.driver_cls
        if driver_cls is None and testsuite.default_driver:
            driver_cls = testsuite.test_driver_map.get(testsuite.default_driver)
            if driver_cls is None:
                # e3-testsuite stops the whole run on the KeyError; one ERROR per testcase that needs it.
                known = ", ".join(sorted(map(str, testsuite.test_driver_map))) or "none"
                case.error = f"default_driver {testsuite.default_driver!r} is not in test_driver_map (known: {known})"
                continue
        if driver_cls is None:
            case.error = "missing test driver"
            continue
        try:
            driver = driver_cls(testsuite.env, test_env)
            driver.Fore, driver.Style = testsuite.Fore, testsuite.Style
            driver.add_test(dag)
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            words = " ".join(str(exc).split())  # one line: e3-core's DAGError ends with a newline
            place = f"{os.path.basename(where.filename)}:{where.lineno}"
            case.error = f"{type(exc).__name__}: {words} (in add_test, {place})"
            continue
        _refuse_unsupported_control(driver)
        drivers[id(driver)] = case.test_id
        _bridge.TESTS[case.test_id] = _bridge.TestEntry(parsed.test_name, [], list(driver.result_queue))
    testsuite.adjust_dag_dependencies(dag)
    _map_vertices(dag, cases, drivers)
    return list(cases.values())


def _refuse_unsupported_control(driver: Any) -> None:
    """Refuse the run at once when a driver's control creator is one the layer refuses (test.opt files).

    ClassicTestDriver reads ``test_control_creator`` in its run fragment:
    there the refusal was each testcase's ERROR, named after the fragment,
    with the reason at the end of its log. Read here, it stops the run
    before anything starts, in one line, as every refusal does. Any other
    error is left to the fragment, where it is that testcase's.
    """
    if not isinstance(getattr(type(driver), "test_control_creator", None), property):
        return
    try:
        _ = driver.test_control_creator
    except Unsupported:
        raise
    except Exception:
        pass


def _fragment_name(name: str) -> str:
    return name.replace(":", "_") or "_"


def _map_vertices(dag: DAG, cases: dict[str, Testcase], drivers: dict[int, str]) -> None:
    owner: dict[str, tuple[str, str]] = {}  # uid -> (e3suite test id, e3suite fragment name)
    for vertex_id, data in dag.vertex_data.items():
        uid = str(vertex_id)
        if not isinstance(data, FragmentData):
            refuse(f"DAG vertex {uid!r} whose data is a {type(data).__name__} (not FragmentData)")
        test_id = drivers.get(id(data.driver))
        if test_id is None:
            continue  # its driver failed in add_test: the testcase is in error
        owner[uid] = (test_id, _fragment_name(data.name))
    successors: set[str] = set()
    predecessors: dict[str, list[str]] = {
        str(uid): sorted(str(p) for p in preds) for uid, preds in dag.vertex_predecessors_items()
    }
    for pred_uids in predecessors.values():
        successors.update(pred_uids)
    counts: dict[str, int] = {}
    for test_id, _ in owner.values():
        counts[test_id] = counts.get(test_id, 0) + 1
    for uid in map(str, dag.vertex_data):
        if uid not in owner:
            continue
        test_id, name = owner[uid]
        entry = _bridge.TESTS[test_id]
        prefix = entry.test_name + "."
        preds: list[tuple[str, str]] = []
        after: list[str] = []
        for pred in predecessors.get(uid, []):
            if pred not in owner:
                case = cases[test_id]
                case.error = case.error or f"unknown dependency {pred!r} of fragment {uid!r}"
                continue
            pred_test, pred_name = owner[pred]
            key = pred_name if pred_test == test_id else f"{pred_test}:{pred_name}"
            preds.append((key, pred[len(prefix):] if pred.startswith(prefix) else pred))
            after.append(key)
        decides = counts[test_id] == 1 and uid not in successors
        _bridge.REGISTRY[uid] = _bridge.Vertex(dag.vertex_data[uid], entry.test_name, preds, decides)
        _bridge.PLANNED.setdefault(test_id, []).append((name, _bridge.FragmentCall(uid), after))
        entry.fragments.append(name)
    for test_id, entry in _bridge.TESTS.items():
        planned = _bridge.PLANNED.get(test_id)
        if planned is None:
            # No fragment: its verdict is what add_test pushed, decided by a lone fragment.
            _bridge.PLANNED[test_id] = [(_bridge.RESULTS_FRAGMENT, _bridge.ResultsCall(test_id), [])]
        elif not (len(planned) == 1 and _bridge.REGISTRY[_uid(planned[0][1])].decides):
            planned.append((_bridge.RESULTS_FRAGMENT, _bridge.ResultsCall(test_id), list(entry.fragments)))


def _uid(callback: Any) -> str:
    return str(callback.uid)
