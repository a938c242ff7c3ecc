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

from __future__ import annotations

from spikekit.plugins import lazy_exports

# Public name -> the submodule defining it. Imported on first access (PEP 562), so that loading the plugin's
# hooks (``spikekit_speck.plugin``, which imports this package first) stays cheap.
_SOURCE = {
    **dict.fromkeys(("SPECK", "ChipSpec", "CoreLimits", "chip_spec"), "chip"),
    **dict.fromkeys(("from_json", "to_json", "validate_config"), "config"),
    **dict.fromkeys(
        (
            "determine_discretization_scale",
            "discretize_conv_spike",
            "discretize_conv_spike_",
            "discretize_params",
            "discretize_tensor",
        ),
        "discretize",
    ),
    "DVSLayer": "dvs",
    **dict.fromkeys(("MappingError", "SpeckModelError", "UnsupportedLayerError"), "errors"),
    **dict.fromkeys(("Spike", "events_to_raster", "raster_to_events"), "events"),
    **dict.fromkeys(("rescale_method_1", "rescale_method_2"), "graph"),
    **dict.fromkeys(("MemoryReport", "find_matching", "layer_memory"), "mapping"),
    **dict.fromkeys(("DynapcnnNetwork", "DynapcnnCompatibleNetwork"), "dynapcnn.dynapcnn_network"),
    "ChipSimulator": "simulator",
    **dict.fromkeys(("SpeckDeployment", "SpeckTarget"), "target"),
    **dict.fromkeys(("ValidateMapping", "validate_memory_mapping_speck"), "validate_memory"),
}

__all__ = list(_SOURCE)

__getattr__, __dir__ = lazy_exports(
    globals(), {name: f"spikekit_speck.{module}:{name}" for name, module in _SOURCE.items()}
)
