"""Check the report files: the run's and e3suite report's are the same documents."""

import json
import subprocess
import sys
from pathlib import Path

import junitparser

run_json = json.loads(Path("run.json").read_text())
print("json:", run_json["format"], run_json["version"], run_json["counts"])
print("json comparison:", {k: [c["id"] for c in v] for k, v in run_json["comparison"].items() if isinstance(v, list)})
suite = next(iter(junitparser.JUnitXml.fromfile("run.xml")))
print("junit:", suite.tests, "tests,", suite.failures, "failures,", suite.skipped, "skipped")
for case in sorted(suite, key=lambda c: (c.classname, c.name)):
    print("  ", case.classname, case.name, [type(r).__name__ for r in case.result])

# --json -: stdout is the document alone, the summary goes to stderr.
proc = subprocess.run(
    [sys.executable, "-m", "e3suite", "report", "out/new", "--json", "-", "--junit", "report.xml"],
    capture_output=True, text=True,
)
print("--json -: exit", proc.returncode, "| stdout is one JSON document:", json.loads(proc.stdout) == run_json,
      "| last line of stderr:", proc.stderr.splitlines()[-1])
print("the run's JUnit file equals e3suite report's:", Path("run.xml").read_text() == Path("report.xml").read_text())
report_json = json.loads(Path("report.json").read_text())
print("compared with itself:", {k: len(v) for k, v in report_json["comparison"].items() if isinstance(v, list)})
html = Path("run.html").read_text()
print("html: self-contained:", "http" not in html.replace("http-equiv", ""), "| scripts:", html.count("<script"),
      "| log escaped:", "<script>alert(1)" not in html)
