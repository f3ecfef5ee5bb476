"""The leaked sleep is gone; the record counts it."""

import json
import time
from pathlib import Path

import psutil


def left() -> list[int]:
    return [p.pid for p in psutil.process_iter(["cmdline"]) if "318.5" in (p.info["cmdline"] or [])]


deadline = time.time() + 5
while left() and time.time() < deadline:
    time.sleep(0.05)
print("survivors:", len(left()))
[record_file] = Path("out/new/results").iterdir()
print("leaked:", json.loads(record_file.read_text())["processes"][0]["leaked"])
