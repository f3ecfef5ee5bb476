import sys

from e3suite import Testsuite


class Crashing(Testsuite):
    def set_up(self):
        raise RuntimeError("set_up crashed")


if __name__ == "__main__":
    sys.exit(Crashing().main())
