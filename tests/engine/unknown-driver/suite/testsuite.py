import sys

from e3suite import TestDriver, Testsuite, TestStatus


class Ok(TestDriver):
    def add_fragments(self):
        self.add_fragment("run", self.run)

    def run(self, ctx):
        ctx.result.set_status(TestStatus.PASS)


class Suite(Testsuite):
    test_driver_map = {"ok": Ok, "other": Ok}


if __name__ == "__main__":
    sys.exit(Suite().main())
