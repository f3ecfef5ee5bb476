"""The ``control:`` key of test.yaml: skip or expect a failure, on conditions.

Format (e3-testsuite's): a list of ``[KIND, "condition"]`` or
``[KIND, "condition", "message"]`` entries, KIND one of NONE, SKIP, XFAIL;
the first entry whose condition is true decides, and no true entry means
NONE (run normally).

Conditions are written in a small expression language, parsed with ``ast``
and evaluated by walking the tree here: literals, names of the facts given
(``env``, ``options``, ``matrix``, and what the testsuite adds), attribute
access, constant subscripts, comparisons (including ``in``), ``and``/``or``/
``not``, and list/tuple/set displays. This module must never ``eval`` or
``compile`` text from test metadata: calls, imports, lambdas, comprehensions,
private and dunder attributes are rejected before anything is evaluated.
Nesting is bounded (``MAX_DEPTH``) before evaluation: the evaluator recurses,
and a condition must never reach Python's recursion limit.
"""

from __future__ import annotations

import ast
import enum
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: How deeply a condition's syntax tree may nest. Real conditions nest a few
#: levels; the evaluator recurses once per level, and the bound keeps a
#: pathological one (a thousand ``not``) far below the recursion limit.
MAX_DEPTH = 50


class ControlKind(enum.Enum):
    NONE = "NONE"
    SKIP = "SKIP"
    XFAIL = "XFAIL"


class ConditionError(Exception):
    """A condition or a control entry that cannot be used (a one-line reason)."""


@dataclass(frozen=True)
class ControlDecision:
    """What the first true entry decided (NONE when no entry was true)."""

    kind: ControlKind
    message: str = ""


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}

# What each rejected construct is called in error messages.
_FORBIDDEN_NAMES: dict[type[ast.AST], str] = {
    ast.Call: "function calls",
    ast.Lambda: "lambdas",
    ast.NamedExpr: "assignments",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.BinOp: "arithmetic",
    ast.IfExp: "conditional expressions",
    ast.JoinedStr: "f-strings",
    ast.Starred: "starred expressions",
    ast.Slice: "slices",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Dict: "dict displays",
}


def parse_condition(text: str) -> ast.Expression:
    """Parse and check ``text``; raise ConditionError naming what is wrong."""
    if not isinstance(text, str):
        raise ConditionError(f"a condition must be a string, not {type(text).__name__}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        detail = "" if exc.msg == "invalid syntax" else f": {exc.msg}"
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ConditionError(f"invalid syntax{detail}{where}") from None
    except (MemoryError, RecursionError):  # CPython's parser gives up on deep nesting this way
        raise ConditionError(f"nested too deeply (at most {MAX_DEPTH} levels)") from None
    _check_depth(tree)
    for node in ast.walk(tree):
        _check_node(node)
    return tree


def _check_depth(tree: ast.AST) -> None:
    """Refuse trees deeper than MAX_DEPTH, walking them without recursion."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ConditionError(f"nested too deeply (at most {MAX_DEPTH} levels)")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _check_node(node: ast.AST) -> None:
    allowed = (
        ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
        ast.Compare, ast.Name, ast.Load, ast.Constant, ast.Attribute, ast.Subscript,
        ast.List, ast.Tuple, ast.Set,
    )  # fmt: skip
    if isinstance(node, tuple(_COMPARE)):
        return
    if not isinstance(node, allowed):
        what = _FORBIDDEN_NAMES.get(type(node), type(node).__name__)
        raise ConditionError(f"not allowed in conditions: {what}")
    if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
        raise ConditionError(f"private attribute {node.attr!r} is not allowed in conditions")
    if isinstance(node, ast.Name) and node.id.startswith("_"):
        raise ConditionError(f"private name {node.id!r} is not allowed in conditions")
    if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Constant):
        raise ConditionError("only constant subscripts (x['key'], x[0]) are allowed in conditions")


def evaluate(text: str, names: Mapping[str, Any]) -> Any:
    """The value of condition ``text`` with ``names`` in scope."""
    tree = parse_condition(text)
    try:
        return _Evaluator(names).visit(tree.body)
    except ConditionError:
        raise
    except Exception as exc:  # a fact's property that raises, ...: this testcase's problem, not the run's
        raise ConditionError(f"{type(exc).__name__}: {exc}") from None


class _Evaluator:
    def __init__(self, names: Mapping[str, Any]) -> None:
        self.names = names

    def visit(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in ("True", "False", "None"):  # pragma: no cover - Constant since 3.8
                return {"True": True, "False": False, "None": None}[node.id]
            if node.id not in self.names:
                known = ", ".join(sorted(self.names)) or "none"
                raise ConditionError(f"unknown name {node.id!r} (known: {known})")
            return self.names[node.id]
        if isinstance(node, ast.Attribute):
            return self._attribute(self.visit(node.value), node.attr)
        if isinstance(node, ast.Subscript):
            assert isinstance(node.slice, ast.Constant)
            container = self.visit(node.value)
            try:
                return container[node.slice.value]
            except (KeyError, IndexError, TypeError) as exc:
                raise ConditionError(f"cannot subscript with {node.slice.value!r}: {exc}") from None
        if isinstance(node, ast.BoolOp):
            # Short-circuit like Python: `a and b.c` must not fail when a is false.
            is_and = isinstance(node.op, ast.And)
            value: Any = is_and
            for operand in node.values:
                value = self.visit(operand)
                if bool(value) != is_and:
                    return value
            return value
        if isinstance(node, ast.UnaryOp):
            operand = self.visit(node.operand)
            if isinstance(node.op, ast.Not):
                return not operand
            try:
                return -operand
            except TypeError as exc:
                raise ConditionError(str(exc)) from None
        if isinstance(node, ast.Compare):
            left = self.visit(node.left)
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = self.visit(comparator)
                try:
                    ok = _COMPARE[type(op)](left, right)
                except TypeError as exc:
                    raise ConditionError(f"cannot compare {left!r} and {right!r}: {exc}") from None
                if not ok:
                    return False
                left = right
            return True
        if isinstance(node, ast.List):
            return [self.visit(e) for e in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.visit(e) for e in node.elts)
        if isinstance(node, ast.Set):
            items = [self.visit(e) for e in node.elts]
            for item in items:
                try:
                    hash(item)
                except TypeError as exc:
                    raise ConditionError(f"cannot make a set of {item!r}: {exc}") from None
            return set(items)
        raise ConditionError(f"not allowed in conditions: {type(node).__name__}")  # pragma: no cover

    @staticmethod
    def _attribute(value: Any, attr: str) -> Any:
        # Facts given as mappings (matrix values, testsuite facts) read
        # naturally as `facts.key`.
        if isinstance(value, Mapping):
            if attr in value:
                return value[attr]
            raise ConditionError(f"no key {attr!r} (known: {', '.join(sorted(map(str, value))) or 'none'})")
        try:
            result = getattr(value, attr)
        except AttributeError:
            raise ConditionError(
                f"{type(value).__name__} object has no attribute {attr!r}{_close_attribute(value, attr)}"
            ) from None
        if callable(result) and not isinstance(result, type):
            # A method is useless without a call, and callables are how
            # conditions would escape the sandbox: refuse them outright.
            raise ConditionError(f"attribute {attr!r} is a method, not a value")
        return result


def parse_entries(control: Any) -> list[tuple[ControlKind, str, str]]:
    """Check the ``control:`` value; return (kind, condition, message) triples."""
    if not isinstance(control, list):
        raise ConditionError(f"control must be a list of [KIND, condition(, message)], not {type(control).__name__}")
    entries = []
    for number, entry in enumerate(control, 1):
        where = f"control entry {number}"
        if not isinstance(entry, list) or len(entry) not in (2, 3):
            raise ConditionError(f"{where}: expected [KIND, condition] or [KIND, condition, message], got {entry!r}")
        kind_text, condition = entry[0], entry[1]
        message = entry[2] if len(entry) == 3 else ""
        try:
            kind = ControlKind(kind_text)
        except ValueError:
            raise ConditionError(f"{where}: unknown kind {kind_text!r} (known: NONE, SKIP, XFAIL)") from None
        if not isinstance(condition, str):
            raise ConditionError(f"{where}: the condition must be a string, got {condition!r}")
        entries.append((kind, condition, str(message)))
    return entries


def decide(control: Any, names: Mapping[str, Any]) -> ControlDecision:
    """Evaluate ``control`` entries in order; the first true one wins.

    Every condition is parsed first, so that a forbidden construct in a
    later entry is reported even when an earlier entry is true.
    """
    entries = parse_entries(control)
    for number, (_, condition, _) in enumerate(entries, 1):
        try:
            parse_condition(condition)
        except ConditionError as exc:
            raise ConditionError(f"control entry {number} ({_shown(condition)}): {exc}") from None
    for number, (kind, condition, message) in enumerate(entries, 1):
        try:
            value = evaluate(condition, names)
        except ConditionError as exc:
            raise ConditionError(f"control entry {number} ({_shown(condition)}): {exc}") from None
        if value:
            return ControlDecision(kind, message)
    return ControlDecision(ControlKind.NONE)


def _shown(condition: str, limit: int = 80) -> str:
    """The condition as messages quote it: a pathological one must not make a 4,000-character line."""
    if len(condition) <= limit:
        return repr(condition)
    return repr(condition[: limit - 3] + "...")


def default_names(options: Any, facts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The names of conditions: ``env`` (e3-core's Env), ``options``, and ``facts``."""
    from e3.env import Env  # e3.env is slow-ish to import; only control needs it

    names: dict[str, Any] = {"env": Env(), "options": options}
    names.update(facts or {})
    return names


def _close_attribute(value: Any, attr: str) -> str:
    """``: did you mean 'name'?`` for a misspelt attribute (``env.host.os.nme``, ``options.jbos``), else ""."""
    import difflib

    try:
        public = [n for n in dir(value) if not n.startswith("_") and not callable(getattr(value, n, None))]
    except Exception:  # an object whose dir() or attributes misbehave: no suggestion
        return ""
    close = difflib.get_close_matches(attr, public, n=1, cutoff=0.6)
    return f": did you mean {close[0]!r}?" if close else ""


def flat_entry_problem(control: Any) -> str | None:
    """The message for ``control: [SKIP, "cond"]``, one entry not put in a list (None for anything else).

    JSON Schema alone said "key 'control[1]': expected list, got string", which
    does not say that the brackets are missing.
    """
    if not (isinstance(control, list) and 2 <= len(control) <= 3 and all(isinstance(i, str) for i in control)):
        return None
    if control[0] not in {kind.value for kind in ControlKind}:
        return None
    return (
        f"key 'control': expected a list of [KIND, condition] entries, got the entry {control!r} alone: "
        f"write [{control!r}]"
    )
