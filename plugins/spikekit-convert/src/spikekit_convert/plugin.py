"""Hook implementations of spikekit-convert: what it adds to spikekit's namespaces (lazy paths only)."""

from __future__ import annotations

from spikekit.plugins import hookimpl
from spikekit.plugins.records import Export

_PACKAGE = "spikekit_convert"

#: (name, lazy import path, what it is, the spikekit namespaces that show it): one row per name
_EXPORTS: list[tuple[str, str, str, tuple[str, ...]]] = [
    (
        "from_model",
        f"{_PACKAGE}.from_torch:from_model",
        "convert a torch ANN into a spiking Network",
        ("spikekit.from_torch", "spikekit"),
    ),
    (
        "Network",
        f"{_PACKAGE}.network:Network",
        "an analog model and its spiking twin",
        ("spikekit.network", "spikekit"),
    ),
    (
        "replace_module",
        f"{_PACKAGE}.conversion:replace_module",
        "copy a model, swapping modules",
        ("spikekit.conversion",),
    ),
    ("replace_module_", f"{_PACKAGE}.conversion:replace_module_", "swap modules in place", ("spikekit.conversion",)),
    (
        "SNNAnalyzer",
        f"{_PACKAGE}.synopcounter:SNNAnalyzer",
        "firing-rate and synop statistics",
        ("spikekit.synopcounter", "spikekit"),
    ),
    (
        "SynOpCounter",
        f"{_PACKAGE}.synopcounter:SynOpCounter",
        "NeuromorphicReLU synop counter",
        ("spikekit.synopcounter", "spikekit"),
    ),
    (
        "normalize_weights",
        f"{_PACKAGE}.utils:normalize_weights",
        "percentile data-based weight scaling",
        ("spikekit.utils",),
    ),
    ("get_activations", f"{_PACKAGE}.utils:get_activations", "analog activations of named layers", ("spikekit.utils",)),
    (
        "get_network_activations",
        f"{_PACKAGE}.utils:get_network_activations",
        "spike counts per layer",
        ("spikekit.utils",),
    ),
    ("get_new_index", f"{_PACKAGE}.utils:get_new_index", "smallest unused non-negative index", ("spikekit.utils",)),
    ("expand_to_pair", f"{_PACKAGE}.utils:expand_to_pair", "int -> (int, int)", ("spikekit.utils",)),
    ("collapse_pair", f"{_PACKAGE}.utils:collapse_pair", "(v, v) -> v", ("spikekit.utils",)),
    (
        "load_sinabs_model",
        f"{_PACKAGE}.sinabs_pickle:load_sinabs_model",
        "load a model pickled by sinabs",
        ("spikekit.utils", "spikekit"),
    ),
    (
        "sinabs_pickle",
        f"{_PACKAGE}:sinabs_pickle",
        "pickle module for torch.load of sinabs pickles",
        ("spikekit.utils",),
    ),
    (
        "conv_output_size",
        f"{_PACKAGE}.cnnutils:conv_output_size",
        "valid-convolution output length",
        ("spikekit.cnnutils",),
    ),
    (
        "compute_same_padding_size",
        f"{_PACKAGE}.cnnutils:compute_same_padding_size",
        "'same' padding",
        ("spikekit.cnnutils",),
    ),
    (
        "compute_padding",
        f"{_PACKAGE}.cnnutils:compute_padding",
        "(left, right, top, bottom) padding",
        ("spikekit.cnnutils",),
    ),
    ("infer_output_shape", f"{_PACKAGE}.cnnutils:infer_output_shape", "a layer's output shape", ("spikekit.cnnutils",)),
    ("spiking_hook", f"{_PACKAGE}.synopcounter:spiking_hook", "SNNAnalyzer's neuron hook", ("spikekit.synopcounter",)),
    ("synops_hook", f"{_PACKAGE}.synopcounter:synops_hook", "SNNAnalyzer's synop hook", ("spikekit.synopcounter",)),
]

#: Names that sinabs's modules offer besides their own (what they import), so that a renamed
#: ``from sinabs.network import StatefulLayer`` works: (namespace, the spikekit namespace that owns them, names).
_ALSO_OFFERED: list[tuple[str, str, tuple[str, ...]]] = [
    ("spikekit.from_torch", "spikekit.activation", ("MembraneSubtract", "MultiSpike", "SingleExponential")),
    ("spikekit.from_torch", "spikekit.conversion", ("replace_module",)),
    ("spikekit.hooks", "spikekit.layers", ("SqueezeMixin", "StatefulLayer")),
    ("spikekit.network", "spikekit.layers", ("StatefulLayer",)),
    ("spikekit.network", "spikekit.synopcounter", ("SNNAnalyzer",)),
    ("spikekit.network", "spikekit.utils", ("get_activations", "get_network_activations")),
    ("spikekit.synopcounter", "spikekit.layers", ("NeuromorphicReLU",)),
]

#: The names of spikekit.hooks, the one list of them (``spikekit_convert.hooks.__all__`` is this list).
HOOK_NAMES = (
    "conv_connection_map",
    "get_hook_data_dict",
    "input_diff_hook",
    "firing_rate_hook",
    "firing_rate_per_neuron_hook",
    "conv_layer_synops_hook",
    "linear_layer_synops_hook",
    "ModelSynopsHook",
    "register_synops_hooks",
)


@hookimpl
def spikekit_exports() -> list[Export]:
    records = [
        Export(name, target, description=description, namespace=namespace)
        for name, target, description, namespaces in _EXPORTS
        for namespace in namespaces
    ]
    records += [
        Export(name, f"{_PACKAGE}.hooks:{name}", description="synop / firing-rate hook", namespace="spikekit.hooks")
        for name in HOOK_NAMES
    ]
    records += [
        Export(
            name, f"{owner}:{name}", description=f"{owner}.{name}, as sinabs's module offers it", namespace=namespace
        )
        for namespace, owner, names in _ALSO_OFFERED
        for name in names
    ]
    return records
