import sys

from e3suite import Testsuite


class NoTests(Testsuite):
    tests_subdir = "no-such-dir"


if __name__ == "__main__":
    sys.exit(NoTests().main())
