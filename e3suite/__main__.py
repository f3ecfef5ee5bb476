"""``python -m e3suite``: the same as the ``e3suite`` console script."""

import sys

from e3suite.cli import main

sys.exit(main())
