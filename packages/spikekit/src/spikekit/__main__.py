"""``python -m spikekit``: the command line. Importing this module runs nothing."""

import sys

from spikekit.cli import main

if __name__ == "__main__":
    sys.exit(main())
