"""The record keeps the head and tail of the output and its full size."""

import json
from pathlib import Path

[record_file] = Path("out/new/results").iterdir()
record = json.loads(record_file.read_text())
command = record["processes"][0]
print("output_size:", command["output_size"])
print("kept in the record:", len(command["output"]), "characters")
print("marker:", [line for line in command["output"].splitlines() if line.startswith("[...")])
print("the log holds the output capped at 1 MB:", len(record["log"]))
