"""What the reports say of the comparison: c is a new failure that had no verdict before (no old status)."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

comparison = json.loads(Path("run.json").read_text())["comparison"]
for name in ("new_failures", "still_failing", "fixed", "newly_skipped", "new", "removed"):
    print(f"{name}:", [(c["id"], c["status"], c["old_status"]) for c in comparison[name]])
for case in sorted(ET.parse("run.xml").iter("testcase"), key=lambda c: c.get("name", "")):
    print("junit:", case.get("name"), [p.get("value") for p in case.iter("property") if p.get("name") == "change"])
