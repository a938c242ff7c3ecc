"""The on-chip DVS sensor pre-processing (kept for ``from spikekit_speck.dvs import DVSLayer``).

The class lives in :mod:`spikekit_speck.dynapcnn.dvs_layer`, sinabs's module path."""

from spikekit_speck.dynapcnn.dvs_layer import DVSLayer

__all__ = ["DVSLayer"]
