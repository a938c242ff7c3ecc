"""Configuration builders of the supported chips (sinabs's ``sinabs.backend.dynapcnn.chips``)."""

from spikekit_speck.chip import CONFIGURABLE_DEVICES, DEVICES
from spikekit_speck.dynapcnn.chips.dynapcnn import DynapcnnConfigBuilder
from spikekit_speck.dynapcnn.chips.speck2e import Speck2EConfigBuilder
from spikekit_speck.dynapcnn.chips.speck2f import Speck2FConfigBuilder
from spikekit_speck.dynapcnn.config_builder import ConfigBuilder

__all__ = ["DynapcnnConfigBuilder", "Speck2EConfigBuilder", "Speck2FConfigBuilder", "BUILDERS"]

_FAMILY_BUILDERS: dict[str, type[ConfigBuilder]] = {"speck2e": Speck2EConfigBuilder, "speck2f": Speck2FConfigBuilder}

#: Device name -> builder (sinabs's ``ChipFactory.supported_devices``), from :data:`spikekit_speck.chip.DEVICES`.
BUILDERS: dict[str, type[ConfigBuilder]] = {
    name: _FAMILY_BUILDERS[DEVICES[name].samna_family] for name in CONFIGURABLE_DEVICES
}
