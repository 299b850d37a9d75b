"""``python -m meanfield`` runs the command line."""

import sys

from meanfield.cli import main

sys.exit(main())
