#!/usr/bin/env python3
"""CPU of making and removing a directory against renaming a spare one in and out.

    python tests/bench/probes/dir_cost.py [DIR]     # default: the temp dir (where working dirs go)

1000 ``mkdir`` + 1000 ``rmdir``, then 1000 pairs of ``rename`` (a spare
directory renamed to a testcase's name and back), three times. A measuring
aid for docs/performance.md, not a test.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time

root = tempfile.mkdtemp(prefix="dir-cost-", dir=sys.argv[1] if len(sys.argv) > 1 else None)
try:
    for _ in range(3):
        start = time.process_time()
        for i in range(1000):
            os.mkdir(f"{root}/t{i:05d}")
        for i in range(1000):
            os.rmdir(f"{root}/t{i:05d}")
        made = time.process_time() - start
        os.mkdir(f"{root}/spare")
        start = time.process_time()
        for i in range(1000):
            os.rename(f"{root}/spare", f"{root}/t{i:05d}")
            os.rename(f"{root}/t{i:05d}", f"{root}/spare")
        renamed = time.process_time() - start
        os.rmdir(f"{root}/spare")
        print(f"mkdir + rmdir {made:.3f} ms/directory   rename + rename back {renamed:.3f} ms/directory")
finally:
    shutil.rmtree(root)
