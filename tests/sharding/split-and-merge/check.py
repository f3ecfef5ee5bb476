"""The shards ran every testcase exactly once; what each results directory records."""

import json
from pathlib import Path

runs = {name: json.loads(Path(name, "new", "index.json").read_text()) for name in ("shard1", "shard2")}
ran = [e["test"] for run in runs.values() for e in run["results"]]
print("every testcase once:", sorted(ran) == sorted(set(ran)), len(ran))
for name, run in runs.items():
    meta = run["run"]
    print(name, meta["shard"], meta["shard_by"], meta["shard_unit"], meta["shard_expected"], meta["selection"],
          "part:", meta["shard_part"])
merged = json.loads(Path("merged", "index.json").read_text())
print("merged:", len(merged["results"]), "testcases, whole:", sorted(ran) == sorted(runs["shard1"]["run"]["shard_whole"]),
      "jobs:", merged["run"]["jobs"], "selection:", merged["run"]["selection"],
      "from:", [m["shard"] for m in merged["run"]["merged_from"]])
print("durations.json:", sorted(json.loads(Path("durations.json").read_text())) == sorted(ran))
print("records relative:", all(not e["record"].startswith("/") for e in merged["results"]))
