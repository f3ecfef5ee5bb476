"""No process of the run survives; the record says how the command ended."""

import time
from pathlib import Path

import psutil

import e3suite.store as store


def left() -> list[int]:
    return [p.pid for p in psutil.process_iter(["cmdline"]) if "317.25" in (p.info["cmdline"] or [])]


deadline = time.time() + 5
while left() and time.time() < deadline:
    time.sleep(0.05)
print("survivors:", len(left()))
record = store.load_records(Path("out/new"))["slow"]
print("failure reasons:", record["failure_reasons"])
[command] = record["processes"]
print("argv:", command["argv"])
# The command's limit is what is left of the fragment's 0.5 s when it starts.
print("timed_out:", command["timed_out"], "timeout:", round(command["timeout"], 1), "status:", command["status"],
      "signal:", command["signal"])
