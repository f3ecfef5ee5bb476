#! /usr/bin/env python3
# The ClassicTestDriver examples of e3-testsuite's documentation
# (doc/api_classic.rst: copy_test_directory, BaseDriver/FixturesDriver with
# set_up/tear_down, FooDriver with compute_failures, the control
# exceptions, self.slot), Copyright AdaCore, GPL-3.0 (see ../LICENSES.md).
# Completed into a runnable testsuite: the "server" is a background `sleep`
# started in set_up and stopped in tear_down, the fixtures a file, and the
# `...` of the doc's commands are test.yaml's `cmd`. FooDriver is kept as
# the doc writes it (`"SUCCESS" not in self.output`, where self.output is a
# Log): e3-testsuite 27.x reports that testcase as an ERROR, and so must we.

import os
import subprocess
import sys

from e3.testsuite import Testsuite
from e3.testsuite.driver.classic import (
    ClassicTestDriver,
    TestAbortWithError,
    TestAbortWithFailure,
    TestSkip,
)


class BaseDriver(ClassicTestDriver):
    @property
    def copy_test_directory(self):
        return not self.test_env.get("no-copy")

    def start_server(self):
        self.server = subprocess.Popen(["sleep", "60"])

    def stop_server(self):
        self.server.kill()
        self.server.wait()

    def set_up(self):
        super().set_up()
        self.start_server()

    def run(self):
        action = self.test_env.get("action")
        if action == "skip":
            raise TestSkip("not today")
        if action == "error":
            raise TestAbortWithError("cannot set up")
        if action == "fail":
            raise TestAbortWithFailure("gave up")
        cwd = self.working_dir() if self.copy_test_directory else self.test_dir()
        self.shell(self.test_env["cmd"], cwd=cwd)

    def tear_down(self):
        self.stop_server()
        super().tear_down()


class FixturesDriver(BaseDriver):
    def set_up(self):
        super(FixturesDriver, self).set_up()
        self.install_fixtures()

    def install_fixtures(self):
        with open(self.working_dir("fixtures.txt"), "w") as f:
            f.write("SUCCESS from fixtures\n")

    def compute_failures(self):
        return ["no match for SUCCESS in output"] if "SUCCESS" not in self.output.log else []


class FooDriver(ClassicTestDriver):
    def run(self):
        self.shell(self.test_env["cmd"])

    def compute_failures(self):
        return (["no match for SUCCESS in output"]
                if "SUCCESS" not in self.output
                else [])


class SlotDriver(ClassicTestDriver):
    copy_test_directory = False

    def run(self):
        self.shell(["sh", "-c", f"echo slot {self.slot}"], cwd=self.test_dir())

    def compute_failures(self):
        return [] if self.slot in (0, 1) and not os.path.exists(self.working_dir()) else ["bad slot"]


class ClassicTestsuite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"base": BaseDriver, "fixtures": FixturesDriver, "foo": FooDriver, "slot": SlotDriver}
    default_driver = "base"


if __name__ == "__main__":
    sys.exit(ClassicTestsuite().testsuite_main())
