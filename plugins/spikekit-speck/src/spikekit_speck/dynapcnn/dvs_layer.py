"""sinabs's ``sinabs.backend.dynapcnn.dvs_layer``: the chip's DVS input stage (defined in
:mod:`spikekit_speck.dvs`)."""

from spikekit_speck.dvs import DVSLayer, expand_to_pair

__all__ = ["DVSLayer", "expand_to_pair"]
