"""`python -m conformance.cli`: the same as the `soma-conformance` console script."""

import sys

from conformance.cli import main

sys.exit(main())
