import json
from pathlib import Path

for name in ("new", "old"):
    index = json.loads(Path("res", name, "index.json").read_text())
    print(name, [entry["test"] for entry in index["results"]])
print("kept runs:", sorted(p.name for p in Path("res").iterdir()))
