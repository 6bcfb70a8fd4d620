"""``python -m domainadapt``: the ``domainadapt`` command (see :mod:`domainadapt.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
