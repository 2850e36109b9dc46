"""``python -m voxtra.cli``: the ``voxtra`` command."""

import sys

from voxtra.cli import main

if __name__ == "__main__":
    sys.exit(main())
