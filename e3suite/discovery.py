"""Find testcases, select them from the command line, and read test.yaml.

A testcase is a directory below the tests directory holding ``test.yaml``;
its id is its POSIX path relative to that directory. The walk never descends
into a testcase's subdirectories (they belong to the testcase: inputs,
baselines, sample trees), skips VCS directories and survives symlink loops.

Reading a test.yaml never raises: a problem becomes the testcase's ``error``
(a one-line reason) so that it ends as an ERROR verdict and every other
testcase still runs. This module must never run a driver's fragments.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import e3suite.control as control
import e3suite.matrix as matrix
import e3suite.schema as schema
import e3suite.yaml_reader as yaml_reader
from e3suite.driver import TestDriver
from e3suite.model import TestStatus

TEST_YAML = "test.yaml"
SKIPPED_DIRS = frozenset({".git", ".svn", "CVS", ".hg", "__pycache__"})


#: Test types of e3suite.drivers, named in the error of a testsuite that does not map them.
_STOCK_DRIVERS = {"shell": "e3suite.drivers.ShellDriver", "diff": "e3suite.drivers.DiffDriver"}


class SelectionError(Exception):
    """A positional argument selects no testcase (a usage error)."""


@dataclass
class Testcase:
    """A discovered testcase, ready for its driver (or already in error)."""

    __test__ = False  # not a pytest class, despite its name

    test_id: str
    test_dir: Path
    test_env: dict[str, Any] = field(default_factory=dict)
    driver_class: type[TestDriver] | None = None
    matrix: dict[str, Any] = field(default_factory=dict)
    #: a problem found before running: the testcase ends as ERROR with it
    error: str | None = None
    #: a verdict decided before running (e.g. SKIP by a control condition):
    #: the testcase's fragments do not run
    verdict: tuple[TestStatus, str] | None = None
    #: set when a failure is expected (XFAIL control): the engine turns FAIL
    #: into XFAIL and PASS into XPASS, with this message
    expected_failure: str | None = None
    #: problems worth a word that do not stop the testcase (a likely typo of
    #: a key): printed when the run starts and written at the top of its log
    warnings: list[str] = field(default_factory=list)
    #: top-level lists and mappings of test.yaml holding items YAML typed
    #: (``cmd: [true]``), as written (see ``yaml_reader.load_with_written``)
    written: dict[str, Any] = field(default_factory=dict)


def id_text(name: str) -> str:
    """``name`` (a file name, or an argument naming one) as text fit for an id.

    Python decodes a file name that is not UTF-8 with lone surrogates
    (``surrogateescape``), which no UTF-8 file, JSON document or XML report
    can hold. In an id, each such byte is spelled ``\\xNN`` instead: ids
    stay readable, stable and writable everywhere, while the testcase's
    directory keeps its real name.
    """
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that no file name decoding makes
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def find_testcase_dirs(tests_root: Path) -> list[tuple[str, Path]]:
    """All (id, directory) pairs below ``tests_root``, sorted by id.

    An id is made of the directory names, as ``id_text`` spells them.
    """
    found: list[tuple[str, Path]] = []
    seen: set[tuple[int, int]] = set()
    # Iterative walk: deep trees must not hit the recursion limit.
    stack: list[tuple[str, str]] = [("", str(tests_root))]
    while stack:
        rel, path = stack.pop()
        try:
            st = os.stat(path)
        except OSError:
            continue  # dangling symlink or vanished directory
        key = (st.st_dev, st.st_ino)
        if key in seen:
            continue  # symlink loop, or a directory linked twice
        seen.add(key)
        # One stat tells a testcase (most directories) without listing it.
        # Whatever is there by that name makes one: a test.yaml that cannot
        # be read (a dangling link, a directory) is its testcase's ERROR.
        if rel and os.path.lexists(os.path.join(path, TEST_YAML)):
            found.append((rel, Path(path)))
            continue
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except OSError:
            continue
        subdirs = sorted(
            (e for e in entries if e.name not in SKIPPED_DIRS and e.is_dir()),
            key=lambda e: e.name,
            reverse=True,
        )
        for entry in subdirs:
            name = id_text(entry.name)
            stack.append((f"{rel}/{name}" if rel else name, entry.path))
    found.sort(key=lambda item: item[0])
    return found


def select_ids(
    ids: Iterable[str], patterns: list[str], tests_root: Path, cwd: Path
) -> list[str]:
    """The ids selected by positional arguments, in the order of ``ids``.

    Each argument is, in this order of preference: an exact id; a directory
    (relative to ``cwd`` or to ``tests_root``) whose testcases are selected;
    a regular expression searched in ids (never in paths). An argument that
    selects nothing is a SelectionError.
    """
    all_ids = list(ids)
    if not patterns:
        return all_ids
    id_set = set(all_ids)
    root = tests_root.resolve()
    selected: set[str] = set()
    for arg in patterns:
        matches = _match_argument(arg, all_ids, id_set, root, cwd)
        if not matches:
            raise SelectionError(f"no testcase matches {arg!r}")
        selected.update(matches)
    return [i for i in all_ids if i in selected]


def select_testcases(
    candidates: list[tuple[str, Path]],
    patterns: list[str],
    tests_root: Path,
    cwd: Path,
    load: Callable[[str, Path], list[Testcase]],
) -> list[Testcase]:
    """The testcases that positional arguments select, loaded with ``load``.

    An argument ``dir[opt=O0,arch=x86]`` selects one variant of the matrix
    directory ``dir`` (axis order free); every other argument selects
    directories, with all their variants, as ``select_ids`` says. Only the
    selected directories' test.yaml files are read, except for a regexp that
    matches no directory id: it is then searched in the ids of every matrix
    variant (``'O2'``, ``'x86-64]$'``), as ``--list`` shows them, which reads
    every test.yaml.
    """
    by_id = dict(candidates)
    dir_ids = [i for i, _ in candidates]
    variant_args: dict[str, list[tuple[str, dict[str, str]]]] = {}
    plain: list[str] = []
    for arg in patterns:
        text = id_text(arg)
        split = matrix.split_variant_id(text) if text not in by_id else None
        if split is not None and split[0].rstrip("/") in by_id:
            variant_args.setdefault(split[0].rstrip("/"), []).append((arg, split[1]))
        else:
            plain.append(arg)
    whole: set[str] = set()
    searched: dict[str, re.Pattern[str]] = {}  # regexps that matched no directory id
    if plain:
        root, id_set = tests_root.resolve(), set(dir_ids)
        for arg in plain:
            matches = _match_argument(arg, dir_ids, id_set, root, cwd)
            whole.update(matches)
            if not matches:
                try:
                    searched[arg] = re.compile(id_text(arg))
                except re.error:  # an empty directory whose path is no regexp
                    raise SelectionError(f"no testcase matches {arg!r}") from None
    elif not variant_args:
        whole = set(dir_ids)
    found: set[str] = set()  # the searched regexps that matched a variant
    cases: list[Testcase] = []
    for dir_id in dir_ids:
        wanted = variant_args.get(dir_id)
        if dir_id not in whole and wanted is None and not searched:
            continue
        loaded = load(dir_id, by_id[dir_id])
        if dir_id not in whole and loaded[0].error is None:
            for arg, values in wanted or []:
                if not any(case.matrix and _same_values(case.matrix, values) for case in loaded):
                    raise SelectionError(f"no testcase matches {arg!r}{_variant_hint(dir_id, loaded, values)}")
            kept = []
            for case in loaded:
                hits = [arg for arg, regexp in searched.items() if case.matrix and regexp.search(case.test_id)]
                found.update(hits)
                if hits or any(_same_values(case.matrix, v) for _, v in wanted or []):
                    kept.append(case)
            loaded = kept
        elif dir_id not in whole and wanted is None:
            continue  # read only for the search: a broken test.yaml has no variant ids
        cases.extend(loaded)
    for arg in searched:
        if arg not in found:
            raise SelectionError(f"no testcase matches {arg!r}")
    return cases


def _variant_hint(dir_id: str, loaded: list[Testcase], values: dict[str, str]) -> str:
    """``: the axes of dir are opt, arch``, or the values each axis takes: what to write instead."""
    axes: dict[str, list[str]] = {}
    for case in loaded:
        for axis, value in (case.matrix or {}).items():
            texts = axes.setdefault(axis, [])
            if matrix.value_text(value) not in texts:
                texts.append(matrix.value_text(value))
    if not axes:
        return f": {dir_id} is no matrix testcase"
    if set(values) != set(axes):
        return f": the axes of {dir_id} are {', '.join(axes)}"
    return f": {dir_id} has " + "; ".join(f"{axis} in {', '.join(texts)}" for axis, texts in axes.items()) + (
        " (that combination is excluded)" if all(values[a] in texts for a, texts in axes.items()) else "")


def _same_values(combination: dict[str, Any], values: dict[str, str]) -> bool:
    """True when a matrix combination reads as ``values`` (axis order free)."""
    return {k: matrix.value_text(v) for k, v in combination.items()} == values


def _match_argument(
    arg: str, all_ids: list[str], id_set: set[str], root: Path, cwd: Path
) -> list[str]:
    stripped = id_text(arg).rstrip("/")
    if stripped in id_set:
        return [stripped]
    for base in (cwd, root):
        candidate = (base / arg).resolve()
        if candidate.name == TEST_YAML and candidate.is_file():
            candidate = candidate.parent  # a testcase named by its test.yaml, as lit takes a test's file
        if candidate.is_dir():
            try:
                rel = id_text(candidate.relative_to(root).as_posix())
            except ValueError:
                continue
            if rel == ".":
                return list(all_ids)
            return [i for i in all_ids if i == rel or i.startswith(rel + "/") or _is_variant(i, rel)]
    try:
        regexp = re.compile(id_text(arg))
    except re.error as exc:
        raise SelectionError(f"{arg!r} is neither a testcase, a directory nor a valid regexp: {exc}") from None
    return [i for i in all_ids if regexp.search(i)]


def _is_variant(test_id: str, dir_id: str) -> bool:
    """True for the matrix variants ``dir[...]`` of directory ``dir``."""
    return test_id.startswith(dir_id + "[")


def read_test_yaml(test_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(mapping, None) or (None, one-line reason)."""
    data, error, _, _ = _read_test_yaml(test_dir)
    return data, error


def _read_test_yaml(test_dir: Path) -> tuple[dict[str, Any] | None, str | None, dict[str, Any], str]:
    """``read_test_yaml``, the items YAML typed as written (``yaml_reader.load_with_written``), the text."""
    path = os.path.join(test_dir, TEST_YAML)
    try:
        text = read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot read {path}: {exc}", {}, ""
    try:
        # PyYAML's safe loader, without PyYAML for the plain subset
        data, written = yaml_reader.load_with_written(text)
    except yaml_reader.DuplicateKeyError as exc:
        first, second = exc.first_line, exc.line
        where = f"on lines {first} and {second}" if first != second else f"twice on line {first}"
        return None, f"{path}:{second}:{exc.column}: duplicate key {exc.key!r} {where}", {}, text
    except yaml_reader.YamlSyntaxError as exc:
        if exc.line is not None:
            return None, f"{path}:{exc.line}:{exc.column}: invalid YAML: {exc.problem}", {}, text
        return None, f"{path}: invalid YAML: {exc.problem}", {}, text
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None, f"{path}: test.yaml must be a mapping, not a {type(data).__name__}", {}, text
    return data, None, written, text


def read_text(path: str) -> str:
    """``Path(path).read_text(encoding="utf-8")``, newlines translated the same way, in a quarter of the time.

    A run reads every test.yaml before its first command starts: the text
    layer's objects (a buffered reader, a decoder) cost three times the
    reading itself.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    except OSError as exc:  # a directory: name it, as open() does
        raise OSError(exc.errno, exc.strerror, path) from None
    finally:
        os.close(fd)
    text = (chunks[0] if len(chunks) == 1 else b"".join(chunks)).decode("utf-8")
    if "\r" in text:  # universal newlines, as the text layer reads them
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def load_testcase(
    test_id: str,
    test_dir: Path,
    driver_map: Mapping[str, type[TestDriver]],
    default_driver: str | None,
    condition_names: Callable[[], Mapping[str, Any]] | None = None,
) -> Testcase:
    """Read ``test.yaml`` and pick the driver; problems go to ``error``.

    ``test_id`` may name one variant of a matrix testcase (``dir[opt=O0]``,
    with ``test_dir`` the directory of ``dir``); a plain id of a matrix
    directory gives an error asking for a variant.
    """
    split = matrix.split_variant_id(test_id)
    if split is not None and (test_dir / TEST_YAML).is_file():
        dir_id, wanted = split
        cases = load_testcases(dir_id, test_dir, driver_map, default_driver, condition_names, variant=wanted)
        if len(cases) == 1 and (cases[0].test_id == test_id or cases[0].error is not None):
            return cases[0]
        message = f"no matrix variant {test_id!r} in {test_dir / TEST_YAML}"
        if len(cases) == 1:
            # Ids are spelled with the axes in the order test.yaml lists them,
            # so that one variant never goes by two ids in a plan.
            message += f" (its id is {cases[0].test_id!r})"
        return Testcase(test_id, test_dir, error=message)
    cases = load_testcases(test_id, test_dir, driver_map, default_driver, condition_names)
    if len(cases) == 1 and cases[0].test_id == test_id:
        return cases[0]
    example = cases[0].test_id if cases else f"{test_id}[...]"
    return Testcase(test_id, test_dir, error=f"{test_id} is a matrix testcase: name one variant, e.g. {example}")


def testcase_by_id(test_id: str, test_dir: Path, load: Callable[[str, Path], list[Testcase]]) -> Testcase:
    """``load_testcase``, with the directory read by ``load(dir_id, test_dir)`` (a testsuite's own reader).

    A variant id picks its combination among all those ``load`` gives
    (axis order free, as on the command line); errors read as
    ``load_testcase``'s.
    """
    split = matrix.split_variant_id(test_id)
    if split is not None and (test_dir / TEST_YAML).is_file():
        dir_id, wanted = split
        loaded = load(dir_id, test_dir)
        if len(loaded) == 1 and loaded[0].error is not None:
            return loaded[0]
        found = [case for case in loaded if case.matrix and _same_values(case.matrix, wanted)]
        if len(found) == 1 and found[0].test_id == test_id:
            return found[0]
        message = f"no matrix variant {test_id!r} in {test_dir / TEST_YAML}"
        if len(found) == 1:
            message += f" (its id is {found[0].test_id!r})"
        return Testcase(test_id, test_dir, error=message)
    cases = load(test_id, test_dir)
    if len(cases) == 1 and cases[0].test_id == test_id:
        return cases[0]
    example = cases[0].test_id if cases else f"{test_id}[...]"
    return Testcase(test_id, test_dir, error=f"{test_id} is a matrix testcase: name one variant, e.g. {example}")


def load_testcases(
    dir_id: str,
    test_dir: Path,
    driver_map: Mapping[str, type[TestDriver]],
    default_driver: str | None,
    condition_names: Callable[[], Mapping[str, Any]] | None = None,
    variant: Mapping[str, str] | None = None,
) -> list[Testcase]:
    """The testcases of one directory: one, or one per matrix combination.

    test.yaml is read and validated once; matrix variants share its mapping
    (drivers must not modify ``test_env``), so a 10,000-combination matrix
    costs 10,000 small objects, not 10,000 parses. ``variant`` keeps only
    the combination whose values read as given. Control conditions are
    evaluated per testcase, with ``matrix`` among the names.
    """
    test_env, error, written, text = _read_test_yaml(test_dir)
    if test_env is None:
        return [Testcase(dir_id, test_dir, error=error)]
    case = Testcase(dir_id, test_dir, test_env=test_env, written=written)
    yaml_path = os.path.join(test_dir, TEST_YAML)  # a str: only error messages use it
    driver_name = test_env.get("driver", default_driver)
    if driver_name is None:
        case.error = f"{yaml_path}: no 'driver' key, and the testsuite has no default driver"
        return [case]
    if not isinstance(driver_name, str) or driver_name not in driver_map:
        known = ", ".join(sorted(driver_map)) or "none"
        case.error = f"{yaml_path}: unknown driver {driver_name!r} (known: {known})"
        stock = _STOCK_DRIVERS.get(driver_name) if isinstance(driver_name, str) else None
        if stock is not None:
            case.error += f"; the stock one is mapped with test_driver_map = {{{driver_name!r}: {stock}}}"
        return [case]
    case.driver_class = driver_map[driver_name]
    problem = schema.driver_schema_problem(case.driver_class.test_yaml_schema)
    if problem is not None:
        # A bug of the driver, not of this test.yaml: each of its testcases says so, the others run.
        case.error = f"driver {case.driver_class.__name__}: invalid test_yaml_schema: {problem}"
        return [case]
    problem, warnings = _checked(text, test_env, case.driver_class)
    if problem is not None:
        case.error = f"{yaml_path}: {problem}"
        return [case]
    case.warnings = [f"{yaml_path}: {w}" for w in warnings]
    spec = test_env.get("matrix")
    if spec is None:
        cases = [case]
    else:
        try:
            if variant is not None:
                found = matrix.find(spec, variant)
                combinations: Iterable[dict[str, Any]] = [found] if found is not None else []
            else:
                combinations = matrix.expand(spec)
            cases = [
                Testcase(
                    matrix.variant_id(dir_id, c), test_dir, test_env, case.driver_class, matrix=c,
                    warnings=case.warnings, written=written,
                )
                for c in combinations
            ]
        except matrix.MatrixError as exc:
            case.error = f"{yaml_path}: {exc}"
            return [case]
        if not cases and variant is None:
            case.error = f"{yaml_path}: the matrix excludes every combination"
            return [case]
    if "control" in test_env:
        names = dict(condition_names() if condition_names is not None else {})
        for one in cases:
            _apply_control(one, names, yaml_path)
    return cases


#: What validation said of a test.yaml text for a driver class (with the
#: schema it was checked against): suites often hold thousands of test.yaml
#: files that say the same (``driver: diff``), and checking one against its
#: schema costs more than reading it (a third of discovery on W1).
_CHECKED: dict[tuple[str, type[TestDriver]], tuple[Any, str | None, list[str]]] = {}


def _checked(text: str, test_env: dict[str, Any], driver_class: type[TestDriver]) -> tuple[str | None, list[str]]:
    """``schema.validate`` and ``schema.typo_warnings`` of ``test_env`` (parsed from ``text``), once per text."""
    driver_schema = driver_class.test_yaml_schema
    known = _CHECKED.get((text, driver_class))
    if known is not None and known[0] is driver_schema:
        return known[1], known[2]
    problem = schema.validate(test_env, driver_schema)
    warnings = schema.typo_warnings(test_env, driver_schema) if problem is None else []
    _CHECKED[(text, driver_class)] = (driver_schema, problem, warnings)
    return problem, warnings


def _apply_control(case: Testcase, names: dict[str, Any], yaml_path: str) -> None:
    """SKIP: a verdict before running; XFAIL: an expected failure; error: ERROR."""
    names["matrix"] = case.matrix
    try:
        decision = control.decide(case.test_env["control"], names)
    except control.ConditionError as exc:
        case.error = f"{yaml_path}: {exc}"
        return
    if decision.kind is control.ControlKind.SKIP:
        case.verdict = (TestStatus.SKIP, decision.message)
    elif decision.kind is control.ControlKind.XFAIL:
        case.expected_failure = decision.message
