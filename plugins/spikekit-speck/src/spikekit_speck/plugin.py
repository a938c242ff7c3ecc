"""Hook implementations of spikekit-speck (cheap to import: every target is a lazy path)."""

from __future__ import annotations

from spikekit.plugins import hookimpl
from spikekit.plugins.records import Export, TargetSpec

_DESCRIPTION = "SynSense {} (DYNAP-CNN core array): checks, discretisation, core mapping, chip-exact simulation"


@hookimpl
def spikekit_targets() -> list[TargetSpec]:
    records = [TargetSpec("speck2f", "spikekit_speck.target:SpeckTarget", _DESCRIPTION.format("Speck 2f"))]
    for name in ("speck2e", "speck2edevkit", "speck2fmodule", "speck2fdevkit", "dynapcnn"):
        records.append(TargetSpec(name, f"spikekit_speck.target:{name}", _DESCRIPTION.format(name)))
    return records


@hookimpl
def spikekit_exports() -> list[Export]:
    validate = "spikekit_speck.validate_memory:validate_memory_mapping_speck"
    mapping = "spikekit_speck.validate_memory:ValidateMapping"
    return [
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
        Export(
            "DynapcnnNetwork",
            "spikekit_speck.network:DynapcnnNetwork",
            "a spiking CNN mapped onto a DYNAP-CNN chip, simulated exactly",
            namespace="spikekit.backend.dynapcnn",
        ),
        Export(
            "DynapcnnCompatibleNetwork",
            "spikekit_speck.network:DynapcnnCompatibleNetwork",
            "deprecated alias of DynapcnnNetwork",
            namespace="spikekit.backend.dynapcnn",
        ),
        Export(
            "DVSLayer",
            "spikekit_speck.dvs:DVSLayer",
            "the chip's DVS input pre-processing",
            namespace="spikekit.backend.dynapcnn",
        ),
    ]
