"""The leaked sleep is gone; the record counts it."""

import time
from pathlib import Path

import psutil

import e3suite.store as store


def left() -> list[int]:
    return [p.pid for p in psutil.process_iter(["cmdline"]) if "318.5" in (p.info["cmdline"] or [])]


deadline = time.time() + 5
while left() and time.time() < deadline:
    time.sleep(0.05)
print("survivors:", len(left()))
[record] = store.load_records(Path("out/new")).values()
print("leaked:", record["processes"][0]["leaked"])
