import json
from pathlib import Path

import e3suite.store as store

new = Path("out", "new")
print("files:", sorted(str(p.relative_to(new)) for p in new.rglob("*")))
events = [json.loads(line) for line in (new / "journal.jsonl").read_text().splitlines()]
print("events:", [(e["event"], e.get("test") or e.get("fragment")) for e in events])
index = json.loads((new / "index.json").read_text())
print("index:", index["format"], index["version"], [(e["test"], e["status"], e["record"]) for e in index["results"]])
record = store.load_records(new)["dir/ok"]  # in its test_result line
print("record:", record["id"], record["status"], record["message"], [f["name"] for f in record["fragments"]])
