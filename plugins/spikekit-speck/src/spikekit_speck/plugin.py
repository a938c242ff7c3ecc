"""Hook implementations of spikekit-speck (cheap to import: every target is a lazy path)."""

from __future__ import annotations

from spikekit.plugins import hookimpl
from spikekit.plugins.records import Export, TargetSpec

# sinabs's ``sinabs.backend.dynapcnn`` submodules that this plugin serves as ``spikekit.backend.dynapcnn.<name>``
# (each is the module ``spikekit_speck.dynapcnn.<name>``). Adding a submodule: one line here.
_DYNAPCNN_SUBMODULES = (
    "chip_factory",
    "chips",
    "config_builder",
    "connectivity_specs",
    "crop2d",
    "discretize",
    "dvs_layer",
    "dynapcnn_layer",
    "dynapcnn_layer_utils",
    "dynapcnn_network",
    "dynapcnn_visualizer",
    "dynapcnnnetwork_module",
    "exceptions",
    "flipdims",
    "io",
    "mapping",
    "nir_graph_extractor",
    "sinabs_edges_handler",
    "specksim",
    "utils",
    "weight_rescaling_methods",
)

# The names ``sinabs.backend.dynapcnn`` itself offers: name -> (submodule, description).
DYNAPCNN_NAMES = {
    "DynapcnnNetwork": ("dynapcnn_network", "a spiking CNN prepared for a DYNAP-CNN / Speck chip"),
    "DynapcnnCompatibleNetwork": ("dynapcnn_network", "deprecated name of DynapcnnNetwork"),
    "DynapcnnLayer": ("dynapcnn_layer", "one chip core: conv -> IAFSqueeze -> pooling per destination"),
    "DynapcnnNetworkModule": ("dynapcnnnetwork_module", "runs a graph of DynapcnnLayers"),
    "DVSLayer": ("dvs_layer", "the chip's DVS input pre-processing"),
    "GraphExtractor": ("nir_graph_extractor", "a model's graph, checked against the chip's rules"),
    "DynapcnnVisualizer": ("dynapcnn_visualizer", "samna's GUI for a network running on a chip (needs samna)"),
}

_DESCRIPTION = "SynSense {} (DYNAP-CNN core array): checks, discretisation, core mapping, chip-exact simulation"


@hookimpl
def spikekit_targets() -> list[TargetSpec]:
    from spikekit_speck.chip import CHIP_NAMES

    records = [TargetSpec("speck2f", "spikekit_speck.target:SpeckTarget", _DESCRIPTION.format("Speck 2f"))]
    for name in CHIP_NAMES:
        if name != "speck2f":
            records.append(TargetSpec(name, f"spikekit_speck.target:{name}", _DESCRIPTION.format(name)))
    return records


@hookimpl
def spikekit_exports() -> list[Export]:
    validate = "spikekit_speck.validate_memory:validate_memory_mapping_speck"
    mapping = "spikekit_speck.validate_memory:ValidateMapping"
    records = [
        Export(
            "validate_memory_mapping_speck", validate, "single-layer Speck memory check", namespace="spikekit.utils"
        ),
        Export("ValidateMapping", mapping, "Speck memory bookkeeping of one layer", namespace="spikekit.utils"),
        Export("validate_memory_mapping_speck", validate, "single-layer Speck memory check", namespace="spikekit"),
        Export("ValidateMapping", mapping, "Speck memory bookkeeping of one layer", namespace="spikekit"),
        Export(
            "ValidateMapping",
            mapping,
            "Speck memory bookkeeping of one layer",
            namespace="spikekit.validate_memory_speck",
        ),
    ]
    return records + _dynapcnn_exports()


def _dynapcnn_exports() -> list[Export]:
    namespace = "spikekit.backend.dynapcnn"
    records = [
        Export(name, f"spikekit_speck.dynapcnn:{name}", f"sinabs's module dynapcnn.{name}", namespace=namespace)
        for name in _DYNAPCNN_SUBMODULES
    ]
    for name, (module, description) in DYNAPCNN_NAMES.items():
        records.append(Export(name, f"spikekit_speck.dynapcnn.{module}:{name}", description, namespace=namespace))
    return records
