"""--rewrite wrote the baseline inside its test directory, and nothing outside it."""

from pathlib import Path

print("escaped.out written:", Path("escaped.out").exists())
print("inside:", Path("tests/inside/expected/out.txt").read_text(), end="")
