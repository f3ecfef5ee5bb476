"""Print every baseline file of the sample suite after the runs."""

from pathlib import Path

for path in sorted(Path("tests").rglob("*")):
    if path.is_file() and path.name != "test.yaml":
        print(f"{path}: {path.read_text()!r}")
