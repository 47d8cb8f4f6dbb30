"""``python -m thermo``: the same command line as the ``thermo`` script."""

import sys

from .cli import main

sys.exit(main())
