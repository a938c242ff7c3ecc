"""Hook implementations of spikekit-convert: what it adds to spikekit's namespaces (lazy paths only)."""

from __future__ import annotations

from spikekit.plugins import hookimpl
from spikekit.plugins.records import Export

_P = "spikekit_convert"

_EXPORTS: list[tuple[str, str, str, str]] = [
    # (namespace, name, target, description)
    ("spikekit.from_torch", "from_model", f"{_P}.from_torch:from_model", "convert a torch ANN into a spiking Network"),
    ("spikekit.network", "Network", f"{_P}.network:Network", "an analog model and its spiking twin"),
    ("spikekit.conversion", "replace_module", f"{_P}.conversion:replace_module", "copy a model, swapping modules"),
    ("spikekit.conversion", "replace_module_", f"{_P}.conversion:replace_module_", "swap modules in place"),
    ("spikekit.synopcounter", "SNNAnalyzer", f"{_P}.synopcounter:SNNAnalyzer", "firing-rate and synop statistics"),
    ("spikekit.synopcounter", "SynOpCounter", f"{_P}.synopcounter:SynOpCounter", "NeuromorphicReLU synop counter"),
    ("spikekit.utils", "normalize_weights", f"{_P}.utils:normalize_weights", "percentile data-based weight scaling"),
    ("spikekit.utils", "get_activations", f"{_P}.utils:get_activations", "analog activations of named layers"),
    ("spikekit.utils", "get_network_activations", f"{_P}.utils:get_network_activations", "spike counts per layer"),
    ("spikekit.utils", "get_new_index", f"{_P}.utils:get_new_index", "smallest unused non-negative index"),
    ("spikekit.utils", "expand_to_pair", f"{_P}.utils:expand_to_pair", "int -> (int, int)"),
    ("spikekit.utils", "collapse_pair", f"{_P}.utils:collapse_pair", "(v, v) -> v"),
    ("spikekit.utils", "load_sinabs_model", f"{_P}.sinabs_pickle:load_sinabs_model", "load a model pickled by sinabs"),
    ("spikekit.utils", "sinabs_pickle", f"{_P}:sinabs_pickle", "pickle module for torch.load of sinabs pickles"),
    ("spikekit.cnnutils", "conv_output_size", f"{_P}.cnnutils:conv_output_size", "valid-convolution output length"),
    ("spikekit.cnnutils", "compute_same_padding_size", f"{_P}.cnnutils:compute_same_padding_size", "'same' padding"),
    ("spikekit.cnnutils", "compute_padding", f"{_P}.cnnutils:compute_padding", "(left, right, top, bottom) padding"),
    ("spikekit.cnnutils", "infer_output_shape", f"{_P}.cnnutils:infer_output_shape", "a layer's output shape"),
    ("spikekit", "from_model", f"{_P}.from_torch:from_model", "convert a torch ANN into a spiking Network"),
    ("spikekit", "Network", f"{_P}.network:Network", "an analog model and its spiking twin"),
    ("spikekit", "SNNAnalyzer", f"{_P}.synopcounter:SNNAnalyzer", "firing-rate and synop statistics"),
    ("spikekit", "SynOpCounter", f"{_P}.synopcounter:SynOpCounter", "NeuromorphicReLU synop counter"),
    ("spikekit", "load_sinabs_model", f"{_P}.sinabs_pickle:load_sinabs_model", "load a model pickled by sinabs"),
]

_HOOKS = (
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
    records = [Export(name, target, description=desc, namespace=ns) for ns, name, target, desc in _EXPORTS]
    records += [
        Export(name, f"{_P}.hooks:{name}", description="synop / firing-rate hook", namespace="spikekit.hooks")
        for name in _HOOKS
    ]
    return records
