"""Each attempt of each testcase: its log, and when it ran (from the records)."""

from pathlib import Path

import e3suite.store as store

for name in ("direct", "sleeper"):
    record = store.load_records(Path("out/new"))[name]
    print(f"{name}: {record['status']}, {len(record['attempts'])} attempts")
    previous_end = 0.0
    for attempt in record["attempts"]:
        print(f"  attempt {attempt['number']}: {attempt['status']}: {attempt['message']}")
        print("    log:", attempt["log"].splitlines())
        print("    started after the attempt before ended:", attempt["start"] >= previous_end)
        print("    ended well before the kill grace:", attempt["end"] - attempt["start"] < 15)
        previous_end = attempt["end"]
