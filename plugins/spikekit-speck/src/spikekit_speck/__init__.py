"""spikekit-speck: take a spiking CNN to SynSense's Speck / DYNAP-CNN chips, without the chip.

Checks a model against the chip's rules, discretises it to 8-bit weights and 16-bit states, places its layers on
the 9 cores, simulates it with the chip's integer arithmetic, and writes a versioned JSON configuration (and
samna's configuration object when samna is installed).

Example:
    >>> import spikekit
    >>> dep = spikekit.deploy(snn, "speck2f", input_shape=(2, 64, 64))
    >>> out = dep.simulate(events)          # (B, T, 2, 64, 64) counts -> output counts
    >>> print(dep.memory_summary()); dep.to_json("net.json")
"""

from spikekit_speck.chip import SPECK, ChipSpec, CoreLimits, chip_spec
from spikekit_speck.config import from_json, to_json, validate_config
from spikekit_speck.discretize import (
    determine_discretization_scale,
    discretize_conv_spike,
    discretize_conv_spike_,
    discretize_params,
    discretize_tensor,
)
from spikekit_speck.dvs import DVSLayer
from spikekit_speck.errors import MappingError, SpeckModelError, UnsupportedLayerError
from spikekit_speck.events import Spike, events_to_raster, raster_to_events
from spikekit_speck.graph import rescale_method_1, rescale_method_2
from spikekit_speck.mapping import MemoryReport, find_matching, layer_memory
from spikekit_speck.network import DynapcnnCompatibleNetwork, DynapcnnNetwork
from spikekit_speck.simulator import ChipSimulator
from spikekit_speck.target import SpeckDeployment, SpeckTarget
from spikekit_speck.validate_memory import ValidateMapping, validate_memory_mapping_speck

__all__ = [
    "SPECK", "ChipSpec", "CoreLimits", "chip_spec", "from_json", "to_json", "validate_config",
    "determine_discretization_scale", "discretize_conv_spike", "discretize_conv_spike_", "discretize_params",
    "discretize_tensor", "DVSLayer", "MappingError", "SpeckModelError", "UnsupportedLayerError", "Spike",
    "events_to_raster", "raster_to_events", "rescale_method_1", "rescale_method_2", "MemoryReport", "find_matching",
    "layer_memory", "DynapcnnNetwork", "DynapcnnCompatibleNetwork", "ChipSimulator", "SpeckDeployment",
    "SpeckTarget", "ValidateMapping", "validate_memory_mapping_speck",
]  # fmt: skip
