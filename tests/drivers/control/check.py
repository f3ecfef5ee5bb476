"""A skipped testcase never ran its command."""

from pathlib import Path

print("skipped testcase ran:", Path("ran").exists())
