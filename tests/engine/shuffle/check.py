import json
import re
import subprocess
import sys


def run(*args: str) -> tuple[str, list[str]]:
    out = subprocess.run(
        [sys.executable, "testsuite.py", "-j1", "--progress", "none", "-o", "drawn", *args],
        capture_output=True, text=True, check=False,
    ).stdout
    seed = re.search(r"--shuffle-seed (\d+)", out)
    return seed.group(1) if seed else "", re.findall(r"^PASS +(\S+)", out, re.M)


seed, order = run("--shuffle")
again_seed, again = run("--shuffle-seed", seed)
print("a drawn seed is printed:", seed.isdigit())
print("--shuffle-seed with it starts them in the same order:", again_seed == seed and again == order)
with open("drawn/new/journal.jsonl") as journal:
    print("the journal holds the seed:", json.loads(journal.readline()).get("shuffle_seed") == int(seed))
