"""Each attempt of each testcase: its log, and when it ran (from the records)."""

import json
from pathlib import Path

for name in ("direct", "sleeper"):
    record = json.loads(Path(f"out/new/results/{name}.json").read_text(encoding="utf-8"))
    print(f"{name}: {record['status']}, {len(record['attempts'])} attempts")
    previous_end = 0.0
    for attempt in record["attempts"]:
        print(f"  attempt {attempt['number']}: {attempt['status']}: {attempt['message']}")
        print("    log:", attempt["log"].splitlines())
        print("    started after the attempt before ended:", attempt["start"] >= previous_end)
        print("    ended well before the kill grace:", attempt["end"] - attempt["start"] < 15)
        previous_end = attempt["end"]
