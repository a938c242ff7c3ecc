"""Configuration builders of the supported chips (sinabs's ``sinabs.backend.dynapcnn.chips``)."""

from spikekit_speck.chip import CONFIGURABLE_DEVICES, DEVICES, parse_device_id
from spikekit_speck.dynapcnn._builder import ConfigBuilder
from spikekit_speck.dynapcnn.chips.dynapcnn import DynapcnnConfigBuilder
from spikekit_speck.dynapcnn.chips.speck2e import Speck2EConfigBuilder
from spikekit_speck.dynapcnn.chips.speck2f import Speck2FConfigBuilder

__all__ = ["DynapcnnConfigBuilder", "Speck2EConfigBuilder", "Speck2FConfigBuilder", "BUILDERS", "builder_for"]

_FAMILY_BUILDERS: dict[str, type[ConfigBuilder]] = {
    b.samna_family: b for b in (Speck2EConfigBuilder, Speck2FConfigBuilder)
}

#: Device name -> builder (sinabs's ``ChipFactory.supported_devices``), from :data:`spikekit_speck.chip.DEVICES`.
BUILDERS: dict[str, type[ConfigBuilder]] = {
    name: _FAMILY_BUILDERS[DEVICES[name].samna_family] for name in CONFIGURABLE_DEVICES
}


def builder_for(device: str) -> type[ConfigBuilder]:
    """The configuration builder class of a device id such as ``"speck2fdevkit:0"`` (``ChipFactory``'s).

    Raises:
        ValueError: unknown device type (sinabs raises a plain ``Exception``; a ``ValueError`` is one).
    """
    name = parse_device_id(device)[0]
    if name not in BUILDERS:
        raise ValueError(
            f"Builder not found for device type: {name!r} (from {device!r}); supported: {', '.join(BUILDERS)}"
        )
    return BUILDERS[name]
