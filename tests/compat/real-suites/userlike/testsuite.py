#! /usr/bin/env python3
"""A testsuite as a user of e3-testsuite 27.x writes one (written here, not vendored).

What it uses: DiffTestDriver with output_refiners (ReplacePath,
PatternSubstitute, LineByLine) and a regexp baseline, a ClassicTestDriver
running shell commands with test.yaml timeouts, control entries whose
conditions read what set_up put in ``self.env`` from an option of
``add_options``, a TestFinder of its own (several testcases in one
directory, ``test_matcher``) beside YAMLTestFinder, and a TestDriver whose
fragments hand values (and an exception) to each other.
"""

import os
import sys

from e3.testsuite import Testsuite
from e3.testsuite.driver import TestDriver
from e3.testsuite.driver.classic import ClassicTestDriver, TestAbortWithFailure
from e3.testsuite.driver.diff import DiffTestDriver, LineByLine, PatternSubstitute, ReplacePath, Substitute
from e3.testsuite.result import TestResult, TestStatus
from e3.testsuite.testcase_finder import ParsedTest, ProbingError, TestFinder, YAMLTestFinder


class OutputDriver(DiffTestDriver):
    """Run test.yaml's ``cmd``; compare its refined output with the baseline."""

    @property
    def output_refiners(self):
        return [
            *super().output_refiners,
            ReplacePath(self.working_dir(), "<WD>"),
            PatternSubstitute(r"pid=\d+", "pid=N"),
            LineByLine(Substitute("colour", "color")),
        ]

    def run(self):
        self.shell(["sh", "-c", self.test_env["cmd"]], env={"FLAVOUR": self.env.flavour}, ignore_environ=False)


class StatusDriver(ClassicTestDriver):
    """Run ``cmd``; "bad" in its output is a failure."""

    def run(self):
        process = self.shell(["sh", "-c", self.test_env["cmd"]], catch_error=False)
        if process.status != 0:
            raise TestAbortWithFailure(f"exit status {process.status}")
        if "bad" in process.out:
            raise TestAbortWithFailure("bad output")


class ChainDriver(TestDriver):
    """compute, then check: the second fragment gets what the first returned, or raised."""

    def add_test(self, dag):
        self.add_fragment(dag, "compute")
        self.add_fragment(dag, "check", after=["compute"])

    def compute(self, previous, slot):
        if self.test_env.get("broken"):
            raise RuntimeError("cannot compute")
        return 6 * 7

    def check(self, previous, slot):
        value = previous["compute"]
        result = TestResult(self.test_name, env=self.test_env)
        if isinstance(value, Exception):
            result.set_status(TestStatus.FAIL, f"compute raised: {value}")
        else:
            result.set_status(TestStatus.PASS if value == 42 else TestStatus.FAIL, f"computed {value}")
        self.push_result(result)


class ScriptFinder(TestFinder):
    """Every ``*.sh`` of a ``scripts`` directory is a testcase of its own."""

    def probe(self, testsuite, dirpath, dirnames, filenames):
        if os.path.basename(dirpath) != "scripts":
            return None
        found = []
        for name in sorted(filenames):
            if not name.endswith(".sh"):
                continue
            if name.startswith("broken"):
                raise ProbingError(f"cannot read {name}")
            found.append(ParsedTest(
                f"scripts.{name[:-3]}", StatusDriver, {"cmd": f"sh {os.path.join(dirpath, name)}"}, dirpath,
                test_matcher=name,
            ))
        return found


class UserLikeTestsuite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"output": OutputDriver, "status": StatusDriver, "chain": ChainDriver}
    default_driver = "output"

    @property
    def test_finders(self):
        return [ScriptFinder(), YAMLTestFinder()]

    def add_options(self, parser):
        parser.add_argument("--flavour", default="vanilla", help="what the tested program is built with")

    def set_up(self):
        super().set_up()
        self.env.flavour = self.main.args.flavour
        self.env.has_foo = self.env.flavour == "foo"


if __name__ == "__main__":
    sys.exit(UserLikeTestsuite().testsuite_main())
