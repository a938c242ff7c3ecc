"""sinabs's ``sinabs.backend.dynapcnn.dvs_layer``: the chip's DVS input stage (defined in
:mod:`spikekit_speck.dvs`)."""

from spikekit.layers import SumPool2d
from spikekit_speck.dvs import Crop2d, DVSLayer, FlipDims, expand_to_pair

__all__ = ["Crop2d", "DVSLayer", "FlipDims", "SumPool2d", "expand_to_pair"]
