"""The JUnit reports: valid (with Surefire's rerun elements) and read back.

run.xml is the first run's; flaky.xml the --flaky-result fail run's, and
again.xml the same rendered later by `e3suite report`, which must agree.
"""

from pathlib import Path

import junitparser
import xmlschema

xsd = Path(__file__).resolve().parents[2] / "unit" / "data" / "junit.xsd"
for name in ("run.xml", "flaky.xml"):
    xmlschema.XMLSchema(str(xsd)).validate(name)
    print(f"{name} is valid")
    suite = next(iter(junitparser.JUnitXml.fromfile(name)))
    print(f"  failures={suite.failures} errors={suite.errors} skipped={suite.skipped}")
    for case in sorted(suite, key=lambda c: c.name):
        children = [child.tag for child in case._elem if child.tag not in ("properties", "system-out")]
        print(f"  {case.name}: {children}")
        for child in case.result:
            if child.type == "FLAKY":
                print(f"    {child.type}: {child.message}")
same = Path("again.xml").read_text(encoding="utf-8") == Path("flaky.xml").read_text(encoding="utf-8")
print("again.xml (e3suite report) is the same as flaky.xml (the run):", same)
