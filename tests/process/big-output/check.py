"""The record keeps the head and tail of the output and its full size."""

from pathlib import Path

import e3suite.store as store

[record] = store.load_records(Path("out/new")).values()
command = record["processes"][0]
print("output_size:", command["output_size"])
print("kept in the record:", len(command["output"]), "characters")
print("marker:", [line for line in command["output"].splitlines() if line.startswith("[...")])
print("the log holds the output capped at 1 MB:", len(record["log"]))
