"""``python -m simulator.cli``: the ``pssim`` command line."""

import sys

from simulator.cli.app import main

sys.exit(main())
