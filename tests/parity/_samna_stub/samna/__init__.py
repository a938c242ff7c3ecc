"""Import-only stand-in for SynSense's samna (parity session only; see the README beside this package)."""

from . import device, graph, speck2e, speck2f, specksim  # noqa: F401

__version__ = "0.0.0+spikekit-stand-in"
