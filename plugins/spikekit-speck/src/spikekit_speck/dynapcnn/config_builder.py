"""``ConfigBuilder``: turns DynapcnnLayers into a chip configuration (sinabs's ``config_builder``), and
:func:`builder_for`, the builder class of a device id.

The base class is defined in :mod:`spikekit_speck.dynapcnn._builder`, the chips' builders in
:mod:`spikekit_speck.dynapcnn.chips`.
"""

from spikekit_speck.dynapcnn._builder import ConfigBuilder
from spikekit_speck.dynapcnn.chips import builder_for

__all__ = ["ConfigBuilder", "builder_for"]
