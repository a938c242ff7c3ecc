import sys

from spikekit.cli import main

sys.exit(main())
