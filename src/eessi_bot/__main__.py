"""`python -m eessi_bot` runs the command line."""

import sys

from eessi_bot.cli.main import main

sys.exit(main())
