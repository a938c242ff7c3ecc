"""Configuration builders of the supported chips (sinabs's ``sinabs.backend.dynapcnn.chips``)."""

from spikekit_speck.dynapcnn.chips.dynapcnn import DynapcnnConfigBuilder
from spikekit_speck.dynapcnn.chips.speck2e import Speck2EConfigBuilder
from spikekit_speck.dynapcnn.chips.speck2f import Speck2FConfigBuilder
from spikekit_speck.dynapcnn.config_builder import ConfigBuilder

__all__ = ["DynapcnnConfigBuilder", "Speck2EConfigBuilder", "Speck2FConfigBuilder", "BUILDERS"]

#: Device name -> builder (sinabs's ``ChipFactory.supported_devices``).
BUILDERS: dict[str, type[ConfigBuilder]] = {
    "speck2e": Speck2EConfigBuilder,
    "speck2edevkit": Speck2EConfigBuilder,
    "speck2fmodule": Speck2FConfigBuilder,
    "speck2fdevkit": Speck2FConfigBuilder,
}
