"""The JUnit report of the first run: valid (with Surefire's rerun elements) and read back."""

from pathlib import Path

import junitparser
import xmlschema

xsd = Path(__file__).resolve().parents[2] / "unit" / "data" / "junit.xsd"
xmlschema.XMLSchema(str(xsd)).validate("run.xml")
print("run.xml is valid")
suite = next(iter(junitparser.JUnitXml.fromfile("run.xml")))
for case in sorted(suite, key=lambda c: c.name):
    children = [child.tag for child in case._elem if child.tag not in ("properties", "system-out")]
    print(f"  {case.name}: {children}")
