"""The table of safe loading: every global a sinabs 3.x or spikekit model file may name, as exact pairs.

A pickle names each class or function it needs as ``(module, qualname)``. Safe loading looks the pair up here and
nowhere else: there is no dotted-name resolution, no pattern (no "any ``nn.Module``", no "any ``spikekit_*``
module") and no import triggered by the file. The pairs were found by pickling real models: every layer, spike
function, reset, surrogate and hook of sinabs 3.1.3 and of spikekit, with ``pickle`` (protocols 2 to 5) and with
``torch.save`` (zip archive and legacy format), and collecting the globals the files hold.

Each pair says what the loader may do with the object:

* ``NEW``: a class the file may instantiate (``NEWOBJ`` with no arguments) and fill (``BUILD``) with a plain
  attribute dictionary: layers, activation objects (resets, surrogates, ``MaxSpike``), analysers;
* ``REF``: an object the file may only refer to, never call: spike functions (autograd functions), hook functions,
  dtypes, storage types;
* ``CALL``: a function the file may call (``REDUCE``); each one has its own argument check in
  :mod:`spikekit_convert.safe_unpickler`.

``sinabs.*`` pairs map to spikekit's object of the same name, by the exact pair where spikekit defines it.
"""

from __future__ import annotations

NEW, REF, CALL = "new", "ref", "call"

#: torch's layer classes a sinabs model holds (every one with torch's own ``__setstate__`` or ``nn.Module``'s).
_TORCH_LAYERS: dict[str, tuple[str, ...]] = {
    "torch.nn.modules.module": ("Module",),  # a plain container (spikekit's NIR models nest dotted names in them)
    "torch.nn.modules.linear": ("Linear", "Identity", "Bilinear"),
    "torch.nn.modules.conv": (
        "Conv1d",
        "Conv2d",
        "Conv3d",
        "ConvTranspose1d",
        "ConvTranspose2d",
        "ConvTranspose3d",
    ),
    "torch.nn.modules.pooling": (
        "AvgPool1d",
        "AvgPool2d",
        "AvgPool3d",
        "MaxPool1d",
        "MaxPool2d",
        "MaxPool3d",
        "AdaptiveAvgPool1d",
        "AdaptiveAvgPool2d",
        "AdaptiveAvgPool3d",
        "AdaptiveMaxPool1d",
        "AdaptiveMaxPool2d",
        "LPPool2d",
    ),
    "torch.nn.modules.batchnorm": ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d"),
    "torch.nn.modules.instancenorm": ("InstanceNorm1d", "InstanceNorm2d"),
    "torch.nn.modules.normalization": ("LayerNorm", "GroupNorm"),
    "torch.nn.modules.dropout": ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout"),
    "torch.nn.modules.flatten": ("Flatten", "Unflatten"),
    "torch.nn.modules.activation": (
        "ReLU",
        "ReLU6",
        "LeakyReLU",
        "PReLU",
        "Sigmoid",
        "Tanh",
        "Softmax",
        "LogSoftmax",
        "ELU",
        "GELU",
        "SiLU",
        "Hardtanh",
        "Softplus",
    ),
    "torch.nn.modules.container": ("Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"),
    "torch.nn.modules.padding": ("ZeroPad2d", "ConstantPad2d"),
    "torch.nn.modules.pixelshuffle": ("PixelShuffle",),
    "torch.nn.modules.upsampling": ("Upsample",),
    "torch.nn.modules.sparse": ("Embedding",),
}

#: spikekit's classes and functions, where spikekit defines them.
_SPIKEKIT_NEW: dict[str, tuple[str, ...]] = {
    "spikekit_neurons.iaf": ("IAF", "IAFSqueeze", "IAFRecurrent"),
    "spikekit_neurons.lif": ("LIF", "LIFSqueeze", "LIFRecurrent"),
    "spikekit_neurons.alif": ("ALIF", "ALIFSqueeze", "ALIFRecurrent"),
    "spikekit_neurons.exp_leak": ("ExpLeak", "ExpLeakSqueeze"),
    "spikekit_neurons.merge": ("Merge", "ChannelShift"),
    "spikekit_neurons.crop2d": ("Cropping2dLayer",),
    "spikekit_neurons.neuromorphic_relu": ("NeuromorphicReLU", "QuantizeLayer"),
    "spikekit_neurons.pool2d": ("SumPool2d", "SpikingMaxPooling2dLayer"),
    "spikekit_neurons.to_spike": ("Img2SpikeLayer", "Sig2SpikeLayer"),
    "spikekit_neurons.resets": ("MembraneReset", "MembraneSubtract"),
    "spikekit_neurons.spike_functions": ("MaxSpike",),
    "spikekit.time": ("FlattenTime", "UnflattenTime", "Repeat"),
    "spikekit_surrogates.sinabs_family": (
        "Heaviside",
        "SingleExponential",
        "PeriodicExponential",
        "Gaussian",
        "MultiGaussian",
    ),
    "spikekit_surrogates.peer_family": (
        "ATan",
        "Erf",
        "FastSigmoid",
        "PiecewiseLinear",
        "Rectangular",
        "Sigmoid",
        "StraightThrough",
        "Triangle",
    ),
    "spikekit_convert.network": ("Network",),
    "spikekit_convert.synopcounter": ("SNNAnalyzer", "SynOpCounter"),
    "spikekit_convert.hooks": ("ModelSynopsHook",),
    "spikekit_nir.graph_module": ("NIRGraphModule", "GraphNode", "_GraphView"),
    "spikekit_nir.modules": ("Scale", "Threshold", "Delay"),
}

_SPIKEKIT_REF: dict[str, tuple[str, ...]] = {
    "spikekit_neurons.spike_functions": ("SingleSpike", "MultiSpike"),
    "spikekit_neurons.quantize": ("Quantize", "StochasticRounding"),
    "spikekit_convert.synopcounter": ("spiking_hook", "synops_hook"),
    "spikekit_convert.hooks": (
        "conv_layer_synops_hook",
        "linear_layer_synops_hook",
        "firing_rate_hook",
        "firing_rate_per_neuron_hook",
        "input_diff_hook",
    ),
}

#: sinabs 3.x's module -> the spikekit module holding each name it pickles (names are the same on both sides).
_SINABS: dict[str, dict[str, tuple[str, ...]]] = {
    "sinabs.layers.iaf": {"spikekit_neurons.iaf": ("IAF", "IAFSqueeze", "IAFRecurrent")},
    "sinabs.layers.lif": {"spikekit_neurons.lif": ("LIF", "LIFSqueeze", "LIFRecurrent")},
    "sinabs.layers.alif": {"spikekit_neurons.alif": ("ALIF", "ALIFRecurrent")},
    "sinabs.layers.exp_leak": {"spikekit_neurons.exp_leak": ("ExpLeak", "ExpLeakSqueeze")},
    "sinabs.layers.merge": {"spikekit_neurons.merge": ("Merge",)},
    "sinabs.layers.channel_shift": {"spikekit_neurons.merge": ("ChannelShift",)},
    "sinabs.layers.crop2d": {"spikekit_neurons.crop2d": ("Cropping2dLayer",)},
    "sinabs.layers.neuromorphic_relu": {"spikekit_neurons.neuromorphic_relu": ("NeuromorphicReLU",)},
    "sinabs.layers.quantize": {"spikekit_neurons.neuromorphic_relu": ("QuantizeLayer",)},
    "sinabs.layers.pool2d": {"spikekit_neurons.pool2d": ("SumPool2d", "SpikingMaxPooling2dLayer")},
    "sinabs.layers.to_spike": {"spikekit_neurons.to_spike": ("Img2SpikeLayer", "Sig2SpikeLayer")},
    "sinabs.layers.reshape": {"spikekit.time": ("FlattenTime", "UnflattenTime", "Repeat")},
    "sinabs.activation.reset_mechanism": {"spikekit_neurons.resets": ("MembraneReset", "MembraneSubtract")},
    "sinabs.activation.spike_generation": {
        "spikekit_neurons.spike_functions": ("SingleSpike", "MultiSpike", "MaxSpike")
    },
    "sinabs.activation.quantize": {"spikekit_neurons.quantize": ("Quantize", "StochasticRounding")},
    "sinabs.activation.surrogate_gradient_fn": {
        "spikekit_surrogates.sinabs_family": (
            "Heaviside",
            "SingleExponential",
            "PeriodicExponential",
            "Gaussian",
            "MultiGaussian",
        )
    },
    "sinabs.network": {"spikekit_convert.network": ("Network",)},
    "sinabs.synopcounter": {
        "spikekit_convert.synopcounter": ("SNNAnalyzer", "SynOpCounter", "spiking_hook", "synops_hook")
    },
    "sinabs.hooks": {
        "spikekit_convert.hooks": (
            "ModelSynopsHook",
            "conv_layer_synops_hook",
            "linear_layer_synops_hook",
            "firing_rate_hook",
            "firing_rate_per_neuron_hook",
            "input_diff_hook",
        )
    },
}

#: The plain values and torch objects (callables each have an argument check in the unpickler).
_CORE: dict[tuple[str, str], tuple[str, str, str]] = {
    ("collections", "OrderedDict"): ("collections", "OrderedDict", CALL),
    ("builtins", "set"): ("builtins", "set", CALL),
    ("__builtin__", "set"): ("builtins", "set", CALL),  # protocol 2 (torch.save) spells builtins this way
    ("_codecs", "encode"): ("_codecs", "encode", CALL),  # protocol 2 writes bytes as encode(text, "latin1")
    ("__builtin__", "bytes"): ("builtins", "bytes", CALL),  # ... and empty bytes as bytes()
    ("torch", "Size"): ("torch", "Size", CALL),
    ("torch", "device"): ("torch", "device", CALL),
    ("torch._utils", "_rebuild_tensor_v2"): ("torch._utils", "_rebuild_tensor_v2", CALL),
    ("torch._utils", "_rebuild_parameter"): ("torch._utils", "_rebuild_parameter", CALL),
    ("torch.storage", "_load_from_bytes"): ("torch.storage", "_load_from_bytes", CALL),
    ("torch.utils.hooks", "RemovableHandle"): ("torch.utils.hooks", "RemovableHandle", NEW),
}

#: Storage types a ``torch.save`` file names for its tensors' data (``REF``), by the pair it names them with.
STORAGE_TYPES = (
    "DoubleStorage",
    "FloatStorage",
    "HalfStorage",
    "BFloat16Storage",
    "LongStorage",
    "IntStorage",
    "ShortStorage",
    "CharStorage",
    "ByteStorage",
    "BoolStorage",
    "ComplexDoubleStorage",
    "ComplexFloatStorage",
)

#: dtypes a layer may keep as an attribute (``REF`` values ``torch.<name>``).
DTYPES = (
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "bool",
    "complex64",
    "complex128",
)


def _build() -> dict[tuple[str, str], tuple[str, str, str]]:
    table = dict(_CORE)
    for module, names in _TORCH_LAYERS.items():
        table.update({(module, n): (module, n, NEW) for n in names})
    for kind, part in ((NEW, _SPIKEKIT_NEW), (REF, _SPIKEKIT_REF)):
        for module, names in part.items():
            table.update({(module, n): (module, n, kind) for n in names})
    for sinabs_module, targets in _SINABS.items():
        for module, names in targets.items():
            for n in names:
                table[sinabs_module, n] = (module, n, table[module, n][2])
    for name in STORAGE_TYPES + DTYPES:
        table["torch", name] = ("torch", name, REF)
    return table


#: ``(module, qualname)`` as the file names it -> ``(module, qualname, kind)`` of the object it stands for.
TABLE: dict[tuple[str, str], tuple[str, str, str]] = _build()

#: Classes of the table hashed by identity (their own ``__hash__`` is ``id(self)``), so their instances may be dict
#: keys (a graph module's ``{consumer node: None}``); any other instance with its own ``__hash__`` is refused as a key.
IDENTITY_HASHED = (("spikekit_nir.graph_module", "GraphNode"),)

#: The public namespaces through which spikekit itself loads the modules above before a file is read.
SPIKEKIT_NAMESPACES = (
    "spikekit.layers",
    "spikekit.activation",
    "spikekit.hooks",
    "spikekit.synopcounter",
    "spikekit.network",
    "spikekit.nir",
)
