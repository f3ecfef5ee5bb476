"""The killed run's directory: a journal, no index; the JUnit file says the run is incomplete."""

from pathlib import Path

import junitparser

print("index.json written:", Path("out/new/index.json").exists())
suite = next(iter(junitparser.JUnitXml.fromfile("killed.xml")))
print("junit:", suite.tests, "tests,", suite.errors, "errors")
print("complete property:", [p.value for p in suite.properties() if p.name == "e3suite.complete"])
