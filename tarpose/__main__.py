"""``python -m tarpose`` = the ``tarpose`` command."""

import sys

from .cli import main

sys.exit(main())
