"""``ConfigBuilder``: turns DynapcnnLayers into a chip configuration (sinabs's ``config_builder``), and
:func:`builder_for`, the builder class of a device id.

The base class is defined in :mod:`spikekit_speck.dynapcnn._builder`, the chips' builders in
:mod:`spikekit_speck.dynapcnn.chips`.
"""

from spikekit_speck.dynapcnn._builder import ConfigBuilder
from spikekit_speck.dynapcnn.chips import builder_for
from spikekit_speck.dynapcnn.dynapcnn_layer import DynapcnnLayer
from spikekit_speck.dynapcnn.mapping import LayerConstraints, get_valid_mapping

__all__ = ["ConfigBuilder", "DynapcnnLayer", "LayerConstraints", "builder_for", "get_valid_mapping"]
