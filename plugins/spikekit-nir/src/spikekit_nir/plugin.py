"""Hook implementations of spikekit-nir: its public names and its NIR mappings (lazy paths only)."""

from __future__ import annotations

from spikekit.plugins import hookimpl
from spikekit.plugins.records import ConverterSpec, Export

_PACKAGE = "spikekit_nir"
_TORCH_CONVERTERS = f"{_PACKAGE}.converters_torch"
_NEURON_CONVERTERS = f"{_PACKAGE}.converters_neurons"
_TOP_AND_NIR = ("spikekit", "spikekit.nir")
_NIR = ("spikekit.nir",)

#: The one table of spikekit-nir's public names: (name, defining module in spikekit_nir, what it is, the spikekit
#: namespaces that show it). The package's lazy attributes (``spikekit_nir.<name>``) and the records below both
#: come from it.
PUBLIC_NAMES: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("to_nir", "export", "export a model to a NIR graph", _TOP_AND_NIR),
    ("from_nir", "importer", "build a model from a NIR graph or .nir file", _TOP_AND_NIR),
    ("save", "io", "write a NIR graph to a .nir file", _NIR),
    ("load", "io", "read a NIR graph from a .nir file", _NIR),
    ("Convention", "conventions", "discretisation of NIR's neuron equations", _NIR),
    ("ConversionError", "conventions", "a model or node without exact mapping", _NIR),
    ("NIRGraphModule", "graph_module", "torch module running a NIR graph", _NIR),
    ("Scale", "modules", "elementwise scaling (NIR Scale)", _NIR),
    ("Threshold", "modules", "Heaviside step (NIR Threshold)", _NIR),
    ("Delay", "modules", "whole-step delay (NIR Delay)", _NIR),
    ("PRESETS", "conventions", "the named conventions (sinabs, snntorch, norse, rockpool)", ()),
    ("ExportContext", "registry", "what an export converter knows besides the module", _NIR),
    ("ImportContext", "registry", "what an import converter knows besides the node", _NIR),
    ("PASSTHROUGH", "registry", "an export converter's answer for a module that only routes signals", _NIR),
    (
        "NIRConventionWarning",
        "converters_neurons",
        "an exported detail a reader of the convention will not apply",
        _NIR,
    ),
    ("NeuronNode", "neuron_node", "an imported neuron with NIR's input gain and resting potential", _NIR),
    ("RecurrentNode", "recurrent", "an imported recurrent neuron (neuron -> weights -> same neuron)", _NIR),
]

#: (class path or public alias, converter function path)
_EXPORT_CONVERTERS: list[tuple[str, str]] = [
    ("torch.nn.modules.linear.Linear", f"{_TORCH_CONVERTERS}:export_linear"),
    ("torch.nn.modules.conv.Conv1d", f"{_TORCH_CONVERTERS}:export_conv1d"),
    ("torch.nn.modules.conv.Conv2d", f"{_TORCH_CONVERTERS}:export_conv2d"),
    ("torch.nn.modules.flatten.Flatten", f"{_TORCH_CONVERTERS}:export_flatten"),
    ("torch.nn.modules.pooling.AvgPool2d", f"{_TORCH_CONVERTERS}:export_avgpool2d"),
    ("torch.nn.modules.linear.Identity", f"{_TORCH_CONVERTERS}:export_passthrough"),
    ("torch.nn.modules.dropout.Dropout", f"{_TORCH_CONVERTERS}:export_passthrough"),
    (f"{_PACKAGE}.modules.Scale", f"{_TORCH_CONVERTERS}:export_scale"),
    (f"{_PACKAGE}.modules.Threshold", f"{_TORCH_CONVERTERS}:export_threshold"),
    (f"{_PACKAGE}.modules.Delay", f"{_TORCH_CONVERTERS}:export_delay"),
    ("spikekit.layers.LIF", f"{_NEURON_CONVERTERS}:export_lif"),
    ("spikekit.layers.LIFRecurrent", f"{_PACKAGE}.recurrent:export_recurrent"),
    ("spikekit.layers.IAFRecurrent", f"{_PACKAGE}.recurrent:export_recurrent"),
    ("spikekit.layers.ALIFRecurrent", f"{_PACKAGE}.recurrent:export_recurrent"),
    (f"{_PACKAGE}.recurrent.RecurrentNode", f"{_PACKAGE}.recurrent:export_recurrent_node"),
    (f"{_PACKAGE}.neuron_node.NeuronNode", f"{_PACKAGE}.neuron_node:export_neuron_node"),
    ("spikekit.layers.IAF", f"{_NEURON_CONVERTERS}:export_iaf"),
    ("spikekit.layers.ExpLeak", f"{_NEURON_CONVERTERS}:export_expleak"),
    ("spikekit.layers.SumPool2d", f"{_NEURON_CONVERTERS}:export_sumpool2d"),
    ("spikekit.layers.Merge", f"{_NEURON_CONVERTERS}:export_merge"),
]

#: (NIR node class name, converter function path)
_IMPORT_CONVERTERS: list[tuple[str, str]] = [
    ("Affine", f"{_TORCH_CONVERTERS}:import_affine"),
    ("Linear", f"{_TORCH_CONVERTERS}:import_linear"),
    ("Conv1d", f"{_TORCH_CONVERTERS}:import_conv1d"),
    ("Conv2d", f"{_TORCH_CONVERTERS}:import_conv2d"),
    ("Flatten", f"{_TORCH_CONVERTERS}:import_flatten"),
    ("AvgPool2d", f"{_TORCH_CONVERTERS}:import_avgpool2d"),
    ("Identity", f"{_TORCH_CONVERTERS}:import_identity"),
    ("Scale", f"{_TORCH_CONVERTERS}:import_scale"),
    ("Threshold", f"{_TORCH_CONVERTERS}:import_threshold"),
    ("Delay", f"{_TORCH_CONVERTERS}:import_delay"),
    ("NIRGraph", f"{_TORCH_CONVERTERS}:import_subgraph"),
    ("LIF", f"{_NEURON_CONVERTERS}:import_lif"),
    ("CubaLIF", f"{_NEURON_CONVERTERS}:import_cubalif"),
    ("IF", f"{_NEURON_CONVERTERS}:import_if"),
    ("LI", f"{_NEURON_CONVERTERS}:import_li"),
    ("I", f"{_NEURON_CONVERTERS}:import_i"),
    ("SumPool2d", f"{_NEURON_CONVERTERS}:import_sumpool2d"),
]


@hookimpl
def spikekit_exports() -> list[Export]:
    return [
        Export(name, f"{_PACKAGE}.{module}:{name}", namespace=namespace, description=description)
        for name, module, description, namespaces in PUBLIC_NAMES
        for namespace in namespaces
    ]


@hookimpl
def spikekit_converters() -> list[ConverterSpec]:
    specs = [ConverterSpec(name, target, format="nir", direction="export") for name, target in _EXPORT_CONVERTERS]
    specs += [ConverterSpec(name, target, format="nir", direction="import") for name, target in _IMPORT_CONVERTERS]
    return specs
