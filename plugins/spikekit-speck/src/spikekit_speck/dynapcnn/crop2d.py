"""sinabs's ``sinabs.backend.dynapcnn.crop2d`` (the class is defined in :mod:`spikekit_speck.dvs`)."""

from spikekit_speck.dvs import Crop2d

__all__ = ["Crop2d"]
