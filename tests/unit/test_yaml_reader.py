"""e3suite.yaml_reader: the fast reader gives what PyYAML's safe loader gives, or hands over.

Every comparison is typed (``True`` is not ``1``, ``1.0`` is not ``1``, NaN
equals NaN, -0.0 is not 0.0) and checks key order. Besides the corpus of the
repository's test.yaml files, tricky scalars are tried in every position (a
value, a flow item, a block item, a flow mapping value) and random documents
are built from the constructs the fast reader knows.
"""

from __future__ import annotations

import math
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from e3suite import yaml_reader
from e3suite.discovery import read_test_yaml

REPO = Path(__file__).resolve().parents[2]


def same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def pyyaml(text: str) -> tuple[Any, str | None]:
    """What the PyYAML path makes of ``text``: (value, None) or (None, the error's type)."""
    try:
        return yaml.load(text, Loader=yaml_reader.strict_loader()), None
    except Exception as exc:
        return None, type(exc).__name__


def fast(text: str) -> tuple[bool, Any]:
    """(True, value) when the fast reader reads ``text`` itself, (False, None) when it hands over."""
    try:
        return True, yaml_reader._Reader(text).document()[0]
    except yaml_reader._Unsupported:
        return False, None


def check(text: str) -> bool:
    """Assert both paths agree on ``text``; True when the fast reader read it."""
    expected, error = pyyaml(text)
    read, value = fast(text)
    if read:
        assert error is None, f"fast reader accepted what PyYAML refuses ({error}): {text!r}"
        assert same(value, expected), f"{text!r}: fast {value!r}, PyYAML {expected!r}"
    if error is None:
        assert same(yaml_reader.load(text), expected)
    return read


def test_the_corpus_of_the_repository() -> None:
    files = [p for p in REPO.rglob("test.yaml") if not {".venv", "out", "node_modules"} & set(p.parts)]
    assert len(files) > 200
    read = sum(check(p.read_text(encoding="utf-8")) for p in files)
    # Nearly all are in the subset (the rest: block scalars, quoted keys, top-level flow, 1e3...).
    assert read >= 0.9 * len(files), f"only {read} of {len(files)} read without PyYAML"


SCALARS = [
    # booleans and null (YAML 1.1), and words that are strings
    "yes", "Yes", "YES", "No", "no", "on", "On", "OFF", "off", "true", "True", "FALSE", "y", "n", "Y", "yEs", "nO",
    "~", "null", "Null", "NULL", "nULL", "none", "None",
    # numbers, and what only looks like one
    "0", "-0", "+0", "00", "007", "08", "017", "-017", "1", "+1", "-12", "10", "0x1F", "-0x1f", "+0xff", "0x", "0b101",
    "-0b11", "0b", "0b2", "0o17", "1_000", "0x_1", "1__0", "12:30", "-1:30", "190:20:30", "1.5", "-1.5", "+1.5", "1.",
    "-1.", "0.", ".5", "-.5", "+.5", "1.5e+3", "1.5E-3", "1.0e9", "1e9", "1e+9", "1.5e3", ".5e+1", "1.2.3", "0.1.0",
    "1,000", ".inf", ".Inf", ".INF", "-.inf", "+.inf", ".iNf", ".nan", ".NaN", ".NAN", "-.nan", "nan", "inf",
    "1:2.5", "0x1.5", "-", "+", ".", "..", "-1x", "2x", "3rd",
    # dates and times
    "2001-01-01", "2001-1-1", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2001-01-01x", "20010101",
    # strings
    "abc", "a b", "a  b", "a#b", "a:b", "http://x/y", "lib:build", "a,b", "a]b", "a}b", "a[b", "it's", 'say "hi"',
    "-j2", "-v", "-e", "-f", "-a", "--shard", "+%s.%N", "%s", "./run.sh", ".gitignore", "/bin/true", "~/x", "~x",
    "a?b", "?a", ":a", "a:", "a: b", "<<", "=", "==", "!x", "&a", "*a", "|", ">", "@x", "`x`", "a\\b", "é", "—",
    "Ünïcödé", "a\u00a0b", "日本",
    # quoted
    "'quoted'", "'it''s'", "''", "'yes'", "'1'", "' padded '", "'a # b'", "'a: b'", "'[x]'", '"esc\\n"', '"tab\\t"',
    '"q\\"q"', '"back\\\\slash"', '"\\x41\\u00e9\\U0001F600"', '"\\/"', '"\\e\\0\\a"', '"\\N\\_\\L\\P"', '"\\q"',
    '"\\x4"', '"\\ud800"', '""', '"yes"', '"a # b"', "'unclosed", '"unclosed', "'a' b", '"a"b', "'a'#c",
    # with comments and spaces
    "abc # comment", "abc #", "abc#", "'a' # c", "[a] # c", "abc   ", "  abc",
]  # fmt: skip


@pytest.mark.parametrize("scalar", SCALARS)
def test_a_scalar_in_every_position(scalar: str) -> None:
    for text in [
        f"k: {scalar}\n",
        f"k: {scalar}",
        f"k: [{scalar}]\n",
        f"k: [a, {scalar}, b]\n",
        f"k:\n  - {scalar}\n",
        f"k:\n- {scalar}\nz: 1\n",
        f"k: {{a: {scalar}}}\n",
        f"k:\n  a: {scalar}\n  b: 2\n",
        f"- {scalar}\n",
        f"{scalar}: v\n",
        f"k:\n  - name: {scalar}\n    other: x\n",
    ]:
        check(text)


@pytest.mark.parametrize(
    "text",
    [
        "driver: shell\ncmd: [true]\n",
        "cmd: [yes, 0x1F, 1e9, .inf, 'quoted', \"esc\\n\", ~, 12:30, 2001-01-01]\n",
        "a: 1\n\n# comment\nb: 2   \n  # indented comment\nc:\n",
        "a:\n  b:\n    c: 1\n    d: [x, y]\n  e: {f: 1, g: [2, 3], h: {i: j}}\n",
        "list:\n- a\n- b\nafter: 1\n",
        "list:\n  - a\n  -\n  - - nested\n",
        "list:\n  -\n    a: 1\n  - b: 2\n    c: 3\n  - [x]\n",
        "runs:\n  - args: [-j2, -v]\n    expect:\n      - one\n      - two\n  - args: []\n",
        "a: {}\nb: []\nc: [ ]\nd: { }\n",
        "a: [a b ,c]\n",
        "a: [a,]\n",
        "a: [a,,b]\n",
        "a: [a, [b, c], {d: e}]\n",
        "a: [a\n  , b]\n",
        "a: {x: 1, x: 2}\n",
        "a: {x}\n",
        "a: {x: }\n",
        "a: {'x': 1}\n",
        "a: b\n  c\n",
        "a: b\n c: d\n",
        "a:\n  b: 1\n c: 2\n",
        "a:\n  - x\n   - y\n",
        "a: 'multi\n  line'\n",
        'a: "multi\\\n  line"\n',
        "a: |\n  literal\n",
        "a: >-\n  folded\n",
        "a: &anchor 1\nb: *anchor\n",
        "a: !!str 1\n",
        "base: &b {x: 1}\nother:\n  <<: *b\n",
        "---\na: 1\n",
        "a: 1\n...\n",
        "%YAML 1.1\n---\na: 1\n",
        "a:\t1\n",
        "\ta: 1\n",
        "a: 1\r\nb: 2\r\n",
        "\ufeffa: 1\n",
        "a: 1\x85b: 2\n",
        "  a: 1\n  b: 2\n",
        "a: 1\nb: 2\na: 3\n",
        "yes: 1\n",
        "1: a\n",
        "a b: 1\n",
        "a : 1\n",
        "a:1\n",
        "? a\n: 1\n",
        "[a, b]\n",
        "just a scalar\n",
        "",
        "# only a comment\n",
        "\n\n",
        "a: - b\n",
        "a: b: c\n",
        "a: [b]c\n",
        "a: 'b' c\n",
        "a: - \n",
        "-\n",
        "a:\n  - x\n  y: 1\n",
        "a: x\n- y\n",
    ],
)
def test_documents(text: str) -> None:
    check(text)


def test_the_fast_reader_reads_the_common_constructs() -> None:
    # Not a test that the subset is large, but that these do not import PyYAML.
    for text in [
        "driver: shell\ncmd: [true]\n",
        "cmd: [echo, yes, 0x1F, .inf, 'quoted', \"esc\\n\", ~, -j2, ./run.sh]\nstatus: 1\n",
        "env: {LANG: C, N: 1}\ntimeout: 2.5\n",
        "fragments:\n  - name: build\n    after: [lib:build]\n  - name: run\n    status: PASS\n",
        "control:\n  - [SKIP, \"env.host.os.name == 'windows'\", no windows here]\n",
        "matrix:\n  opt: [O0, O2]\n  exclude:\n  - {opt: O2}\n",
    ]:
        assert fast(text)[0], text
        check(text)


def random_document(rng: random.Random) -> str:
    """A document of the constructs the fast reader knows, with a few it hands over."""
    words = ["a", "b", "yes", "no", "1", "0x1F", "1.5", "~", "'q'", '"d\\n"', "-j2", "x y", "1e9", "2001-01-01", ""]

    def scalar() -> str:
        return rng.choice(words) or "v"

    def flow(depth: int) -> str:
        if depth < 2 and rng.random() < 0.2:
            return "{" + ", ".join(f"k{i}: {flow(depth + 1)}" for i in range(rng.randint(0, 3))) + "}"
        if depth < 2 and rng.random() < 0.3:
            return "[" + ", ".join(flow(depth + 1) for _ in range(rng.randint(0, 3))) + "]"
        return scalar()

    def block(indent: int, depth: int) -> list[str]:
        pad = " " * indent
        lines = []
        if depth < 3 and rng.random() < 0.3:
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.3:
                    lines.append(f"{pad}- k: {flow(1)}")
                    lines.append(f"{pad}  j: {flow(1)}")
                elif rng.random() < 0.2:
                    lines.append(f"{pad}-")
                    lines.extend(block(indent + 2, depth + 1))
                else:
                    lines.append(f"{pad}- {flow(0)}")
            return lines
        for i in range(rng.randint(1, 3)):
            key = f"key{i}"
            choice = rng.random()
            if depth < 3 and choice < 0.3:
                lines.append(f"{pad}{key}:" + rng.choice(["", "  ", " # c"]))
                lines.extend(block(indent + rng.choice([1, 2, 4]), depth + 1))
            else:
                lines.append(f"{pad}{key}: {flow(0)}" + rng.choice(["", " ", " # c"]))
            if rng.random() < 0.1:
                lines.append(rng.choice(["", "# comment", "   # comment"]))
        return lines

    return "\n".join(block(0, 0)) + rng.choice(["", "\n"])


def test_random_documents() -> None:
    rng = random.Random(8)
    read = sum(check(random_document(rng)) for _ in range(3000))
    assert read > 1000  # many of them have a 1e9 or a date somewhere: handed over


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # duplicate keys: the fast reader hands over, PyYAML's loader names both lines
        ("cmd: [a]\nstatus: 1\ncmd: [b]\n", "test.yaml:3:1: duplicate key 'cmd' on lines 1 and 3"),
        ("env:\n  A: 1\n  A: 2\n", "test.yaml:3:3: duplicate key 'A' on lines 2 and 3"),
        ("fragments:\n  - name: a\n    name: b\n", "test.yaml:3:5: duplicate key 'name' on lines 2 and 3"),
        ("env: {A: 1, A: 2}\n", "test.yaml:1:13: duplicate key 'A' twice on line 1"),
        # syntax: where PyYAML says
        ("a: 1\nb: [1,\n", "test.yaml:3:1: invalid YAML: did not find expected node content"),
        ("a: 1\n  b: 2\n", "test.yaml:2:4: invalid YAML: mapping values are not allowed in this context"),
        ("a: 1\nb: @x\n", "test.yaml:2:4: invalid YAML: found character that cannot start any token"),
        ("a: 'b' c\n", "test.yaml:1:8: invalid YAML: did not find expected key"),
    ],
)
def test_errors_name_the_lines(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "test.yaml").write_text(text)
    data, error = read_test_yaml(tmp_path)
    assert data is None and error == f"{tmp_path / 'test.yaml'}:{message.split(':', 1)[1]}"


def test_key_typos_are_still_found(tmp_path: Path) -> None:
    from e3suite import TestDriver
    from e3suite.discovery import load_testcase
    from e3suite.drivers import ShellDriver

    class Open(TestDriver):  # an open schema: an unknown key is a warning
        def add_fragments(self) -> None:
            pass

    (tmp_path / "test.yaml").write_text("driver: open\ncmd: [true]\ntimout: 5\n")
    assert fast((tmp_path / "test.yaml").read_text())[0]
    case = load_testcase("t", tmp_path, {"open": Open, "shell": ShellDriver}, None)
    assert case.error is None and case.test_env["cmd"] == [True]
    assert case.warnings == [
        f"{tmp_path / 'test.yaml'}: key 'timout' is not a key e3suite or the driver declares: did you mean 'timeout'?"
    ]
    (tmp_path / "test.yaml").write_text("driver: shell\ncmd: [true]\ntimout: 5\n")  # closed: an error
    error = load_testcase("t", tmp_path, {"open": Open, "shell": ShellDriver}, None).error
    assert error == f"{tmp_path / 'test.yaml'}: unknown key 'timout': did you mean 'timeout'?"


def composed(text: str, key: str) -> Any:
    """The scalars of top-level ``key`` as PyYAML's compose has them (what ShellDriver reads)."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    for key_node, node in root.value:
        if key_node.value == key:
            if isinstance(node, yaml.SequenceNode):
                return [item.value for item in node.value]
            return {k.value: v.value for k, v in node.value}
    return None


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("cmd: [true, 1.0, 'yes', \"a\\tb\", ~, 0x1F, -j2]\n", "cmd"),
        ("cmd:\n  - true\n  - 017\n  - 'it''s'\n", "cmd"),
        ("env: {A: 1, B: yes, C: '2'}\n", "env"),
        ("env:\n  A: 1.50\n  B: off\n", "env"),
    ],
)
def test_written_scalars_are_what_compose_gives(text: str, key: str) -> None:
    assert yaml_reader.written_scalars(text, key) == composed(text, key)


def test_written_scalars_hand_over_outside_the_subset() -> None:
    assert yaml_reader.written_scalars("cmd: [&a x, *a]\n", "cmd") is None
    assert yaml_reader.written_scalars("cmd: [[a], b]\n", "cmd") is None  # not all scalars
    assert yaml_reader.written_scalars("cmd: x\n", "cmd") is None
    assert yaml_reader.written_scalars("other: [x]\n", "cmd") is None


def test_reading_a_plain_test_yaml_does_not_import_pyyaml(tmp_path: Path) -> None:
    (tmp_path / "test.yaml").write_text("driver: shell\ncmd: [true, 'x']\nenv: {A: 1}\n")
    code = (
        "import sys; from pathlib import Path; from e3suite.discovery import read_test_yaml;"
        f"data, error = read_test_yaml(Path({str(tmp_path)!r})); assert error is None, error;"
        "print(data, 'yaml' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert out.strip() == "{'driver': 'shell', 'cmd': [True, 'x'], 'env': {'A': 1}} False"


def test_a_lone_equals_sign_is_its_text() -> None:
    """`cmd: [test, "$x", =, y]`: PyYAML's safe loader refuses `=` (YAML 1.1's value key) as a constructor error."""
    assert yaml_reader.load('cmd: [test, "$x", =, y]\n') == {"cmd": ["test", "$x", "=", "y"]}
    assert yaml_reader.load("cmd:\n  - test\n  - =\n") == {"cmd": ["test", "="]}
