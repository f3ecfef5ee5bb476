#! /usr/bin/env python3
# The test-fragment examples of e3-testsuite's documentation
# (doc/api_test_driver.rst: ParsingDriver; doc/api_testsuite.rst:
# adjust_dag_dependencies with ComputeNumberDriver/SumDriver), Copyright
# AdaCore, GPL-3.0 (see ../LICENSES.md). Completed into a runnable testsuite:
# callbacks take (previous_values, slot) as e3-testsuite 27.x calls them (the
# doc shows one argument), result names use the JSON file's base name (the
# doc's full path cannot name a result file), and the two drivers the doc
# leaves abstract compute and sum numbers from test.yaml.

import os
import subprocess
import sys
from glob import glob

from e3.testsuite import Testsuite
from e3.testsuite.driver import TestDriver
from e3.testsuite.result import TestResult, TestStatus


class ParsingDriver(TestDriver):

    def add_test(self, dag):
        self.add_fragment(dag, "build")
        for json_file in sorted(glob(self.test_dir("*.json"))):
            input_name = os.path.splitext(os.path.basename(json_file))[0]
            fragment_name = "parse-" + input_name
            out_file = json_file + ".out"
            self.add_fragment(
                dag=dag,
                name=fragment_name,
                fun=self.create_parse_callback(fragment_name, json_file, out_file),
                after=["build"],
            )

    def build(self, previous_values, slot):
        os.mkdir(self.working_dir())
        subprocess.check_call(
            ["gcc", "-o", "test_program", self.test_dir("test_program.c")],
            cwd=self.working_dir(),
        )
        return True

    def create_parse_callback(self, fragment_name, json_file, out_file):
        def callback(previous_values, slot):
            if not previous_values.get("build"):
                return False
            result = TestResult(fragment_name, self.test_env)
            with open(self.test_dir(json_file), "rb") as f:
                output = subprocess.check_output(
                    [self.working_dir("test_program")],
                    stdin=f,
                    stderr=subprocess.STDOUT,
                )
            with open(self.test_dir(out_file), "rb") as f:
                if f.read() == output:
                    result.set_status(TestStatus.PASS)
                else:
                    result.set_status(TestStatus.FAIL, "unexpected output")
            self.push_result(result)
            return True

        return callback


class ComputeNumberDriver(TestDriver):
    def add_test(self, dag):
        self.add_fragment(dag, "compute", lambda previous_values, slot: self.test_env["value"] * 2)


class SumDriver(TestDriver):
    def add_test(self, dag):
        self.add_fragment(dag, "sum")

    def sum(self, previous_values, slot):
        total = sum(previous_values[fg.uid] for fg in self.comp_fragments)
        status = TestStatus.PASS if total == self.test_env["sum"] else TestStatus.FAIL
        self.result.set_status(status, f"sum is {total}")
        self.push_result()


class FragmentsTestsuite(Testsuite):
    tests_subdir = "tests"
    test_driver_map = {"parsing": ParsingDriver, "compute": ComputeNumberDriver, "sum": SumDriver}

    def adjust_dag_dependencies(self, dag):
        comp_fragments = []
        sum_fragments = []
        for fg in dag.vertex_data.values():
            if isinstance(fg.driver, ComputeNumberDriver):
                comp_fragments.append(fg)
            elif isinstance(fg.driver, SumDriver):
                sum_fragments.append(fg)
        comp_uids = [fg.uid for fg in comp_fragments]
        for fg in sum_fragments:
            fg.driver.comp_fragments = comp_fragments
            dag.update_vertex(vertex_id=fg.uid, predecessors=comp_uids)


if __name__ == "__main__":
    sys.exit(FragmentsTestsuite().testsuite_main())
