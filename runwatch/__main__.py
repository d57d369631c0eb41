"""`python -m runwatch ...`: the `runwatch` command."""

import sys

from runwatch.cli import main

sys.exit(main())
