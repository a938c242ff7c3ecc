"""Hook implementations of spikekit-nir: its public names and its NIR mappings (lazy paths only)."""

from __future__ import annotations

from spikekit.plugins import hookimpl
from spikekit.plugins.records import ConverterSpec, Export

_P = "spikekit_nir"
_T = f"{_P}.converters_torch"
_N = f"{_P}.converters_neurons"

_EXPORTS: list[tuple[str, str, str, str]] = [
    ("spikekit", "to_nir", f"{_P}.export:to_nir", "export a model to a NIR graph"),
    ("spikekit", "from_nir", f"{_P}.importer:from_nir", "build a model from a NIR graph or .nir file"),
    ("spikekit.nir", "to_nir", f"{_P}.export:to_nir", "export a model to a NIR graph"),
    ("spikekit.nir", "from_nir", f"{_P}.importer:from_nir", "build a model from a NIR graph or .nir file"),
    ("spikekit.nir", "save", f"{_P}.io:save", "write a NIR graph to a .nir file"),
    ("spikekit.nir", "load", f"{_P}.io:load", "read a NIR graph from a .nir file"),
    ("spikekit.nir", "Convention", f"{_P}.conventions:Convention", "discretisation of NIR's neuron equations"),
    ("spikekit.nir", "ConversionError", f"{_P}.conventions:ConversionError", "a model or node without exact mapping"),
    ("spikekit.nir", "NIRGraphModule", f"{_P}.graph_module:NIRGraphModule", "torch module running a NIR graph"),
    ("spikekit.nir", "Scale", f"{_P}.modules:Scale", "elementwise scaling (NIR Scale)"),
    ("spikekit.nir", "Threshold", f"{_P}.modules:Threshold", "Heaviside step (NIR Threshold)"),
    ("spikekit.nir", "Delay", f"{_P}.modules:Delay", "whole-step delay (NIR Delay)"),
]

#: (class path or public alias, converter function path)
_EXPORT_CONVERTERS: list[tuple[str, str]] = [
    ("torch.nn.modules.linear.Linear", f"{_T}:export_linear"),
    ("torch.nn.modules.conv.Conv1d", f"{_T}:export_conv1d"),
    ("torch.nn.modules.conv.Conv2d", f"{_T}:export_conv2d"),
    ("torch.nn.modules.flatten.Flatten", f"{_T}:export_flatten"),
    ("torch.nn.modules.pooling.AvgPool2d", f"{_T}:export_avgpool2d"),
    ("torch.nn.modules.linear.Identity", f"{_T}:export_passthrough"),
    ("torch.nn.modules.dropout.Dropout", f"{_T}:export_passthrough"),
    (f"{_P}.modules.Scale", f"{_T}:export_scale"),
    (f"{_P}.modules.Threshold", f"{_T}:export_threshold"),
    (f"{_P}.modules.Delay", f"{_T}:export_delay"),
    ("spikekit.layers.LIF", f"{_N}:export_lif"),
    ("spikekit.layers.IAF", f"{_N}:export_iaf"),
    ("spikekit.layers.ExpLeak", f"{_N}:export_expleak"),
    ("spikekit.layers.SumPool2d", f"{_N}:export_sumpool2d"),
    ("spikekit.layers.Merge", f"{_N}:export_merge"),
]

#: (NIR node class name, converter function path)
_IMPORT_CONVERTERS: list[tuple[str, str]] = [
    ("Affine", f"{_T}:import_affine"),
    ("Linear", f"{_T}:import_linear"),
    ("Conv1d", f"{_T}:import_conv1d"),
    ("Conv2d", f"{_T}:import_conv2d"),
    ("Flatten", f"{_T}:import_flatten"),
    ("AvgPool2d", f"{_T}:import_avgpool2d"),
    ("Identity", f"{_T}:import_identity"),
    ("Scale", f"{_T}:import_scale"),
    ("Threshold", f"{_T}:import_threshold"),
    ("Delay", f"{_T}:import_delay"),
    ("NIRGraph", f"{_T}:import_subgraph"),
    ("LIF", f"{_N}:import_lif"),
    ("CubaLIF", f"{_N}:import_cubalif"),
    ("IF", f"{_N}:import_if"),
    ("LI", f"{_N}:import_li"),
    ("I", f"{_N}:import_i"),
    ("SumPool2d", f"{_N}:import_sumpool2d"),
]


@hookimpl
def spikekit_exports() -> list[Export]:
    return [Export(name, target, namespace=ns, description=desc) for ns, name, target, desc in _EXPORTS]


@hookimpl
def spikekit_converters() -> list[ConverterSpec]:
    specs = [ConverterSpec(n, t, format="nir", direction="export") for n, t in _EXPORT_CONVERTERS]
    specs += [ConverterSpec(n, t, format="nir", direction="import") for n, t in _IMPORT_CONVERTERS]
    return specs
