"""``DynapcnnNetwork`` (kept for ``from spikekit_speck.network import DynapcnnNetwork``).

The classes live in :mod:`spikekit_speck.dynapcnn.dynapcnn_network`, sinabs's module path."""

from spikekit_speck.dynapcnn.dynapcnn_network import DynapcnnCompatibleNetwork, DynapcnnNetwork

__all__ = ["DynapcnnNetwork", "DynapcnnCompatibleNetwork"]
