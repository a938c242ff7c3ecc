"""What this plugin provides, as plain data (imported by ``plugin.py`` and ``__init__.py``; imports nothing)."""

from __future__ import annotations

LAYERS = "spikekit.layers"
ACTIVATION = "spikekit.activation"

#: (public name, "module:attribute", namespace, description)
EXPORTS: list[tuple[str, str, str, str]] = [
    ("IAF", "spikekit_neurons.iaf:IAF", LAYERS, "integrate-and-fire neurons"),
    ("IAFSqueeze", "spikekit_neurons.iaf:IAFSqueeze", LAYERS, "integrate-and-fire neurons, (B*T, ...) input"),
    ("IAFRecurrent", "spikekit_neurons.iaf:IAFRecurrent", LAYERS, "integrate-and-fire neurons, recurrent"),
    ("LIF", "spikekit_neurons.lif:LIF", LAYERS, "leaky integrate-and-fire neurons"),
    ("LIFSqueeze", "spikekit_neurons.lif:LIFSqueeze", LAYERS, "leaky integrate-and-fire, (B*T, ...) input"),
    ("LIFRecurrent", "spikekit_neurons.lif:LIFRecurrent", LAYERS, "leaky integrate-and-fire neurons, recurrent"),
    ("ExpLeak", "spikekit_neurons.exp_leak:ExpLeak", LAYERS, "leaky integrator (membrane trace output)"),
    ("ExpLeakSqueeze", "spikekit_neurons.exp_leak:ExpLeakSqueeze", LAYERS, "leaky integrator, (B*T, ...) input"),
    ("ALIF", "spikekit_neurons.alif:ALIF", LAYERS, "adaptive leaky integrate-and-fire neurons"),
    ("ALIFSqueeze", "spikekit_neurons.alif:ALIFSqueeze", LAYERS, "adaptive LIF, (B*T, ...) input"),
    ("ALIFRecurrent", "spikekit_neurons.alif:ALIFRecurrent", LAYERS, "adaptive LIF, recurrent"),
    ("SpikingMaxPooling2dLayer", "spikekit_neurons.pool2d:SpikingMaxPooling2dLayer", LAYERS, "max pooling of spikes"),
    ("SumPool2d", "spikekit_neurons.pool2d:SumPool2d", LAYERS, "sum pooling"),
    ("Img2SpikeLayer", "spikekit_neurons.to_spike:Img2SpikeLayer", LAYERS, "image to random spike train"),
    ("Sig2SpikeLayer", "spikekit_neurons.to_spike:Sig2SpikeLayer", LAYERS, "signal to random spike train"),
    ("Cropping2dLayer", "spikekit_neurons.crop2d:Cropping2dLayer", LAYERS, "crop (N, C, H, W)"),
    ("NeuromorphicReLU", "spikekit_neurons.neuromorphic_relu:NeuromorphicReLU", LAYERS, "ReLU with integer output"),
    ("QuantizeLayer", "spikekit_neurons.neuromorphic_relu:QuantizeLayer", LAYERS, "floor with straight-through grad"),
    ("Merge", "spikekit_neurons.merge:Merge", LAYERS, "add two spike streams, zero-padding to fit"),
    ("ChannelShift", "spikekit_neurons.merge:ChannelShift", LAYERS, "prepend zero channels"),
    ("MultiSpike", "spikekit_neurons.spike_functions:MultiSpike", ACTIVATION, "several spikes per step"),
    ("SingleSpike", "spikekit_neurons.spike_functions:SingleSpike", ACTIVATION, "at most one spike per step"),
    ("MaxSpike", "spikekit_neurons.spike_functions:MaxSpike", ACTIVATION, "up to a maximum of spikes per step"),
    ("MembraneSubtract", "spikekit_neurons.resets:MembraneSubtract", ACTIVATION, "reset by subtracting the threshold"),
    ("MembraneReset", "spikekit_neurons.resets:MembraneReset", ACTIVATION, "reset to a fixed potential"),
    ("Quantize", "spikekit_neurons.quantize:Quantize", ACTIVATION, "floor with straight-through gradient"),
    ("StochasticRounding", "spikekit_neurons.quantize:StochasticRounding", ACTIVATION, "stochastic rounding, STE"),
]

#: sinabs's module paths that this plugin serves: (name in the namespace, the plugin's module, namespace). Each is
#: exported as a module, so ``import spikekit.layers.lif`` gives ``spikekit_neurons.lif`` itself; where sinabs splits
#: what one module of the plugin holds, two paths show the same module (``layers.channel_shift`` is ``merge``).
MODULES: list[tuple[str, str, str]] = [
    ("iaf", "iaf", LAYERS),
    ("lif", "lif", LAYERS),
    ("alif", "alif", LAYERS),
    ("exp_leak", "exp_leak", LAYERS),
    ("pool2d", "pool2d", LAYERS),
    ("crop2d", "crop2d", LAYERS),
    ("to_spike", "to_spike", LAYERS),
    ("neuromorphic_relu", "neuromorphic_relu", LAYERS),
    ("quantize", "neuromorphic_relu", LAYERS),
    ("merge", "merge", LAYERS),
    ("channel_shift", "merge", LAYERS),
    ("functional", "functional", LAYERS),
    ("spike_generation", "spike_functions", ACTIVATION),
    ("reset_mechanism", "resets", ACTIVATION),
    ("quantize", "quantize", ACTIVATION),
]

#: (backend name, "module:attribute", description)
BACKENDS: list[tuple[str, str, str]] = [
    ("torch", "spikekit_neurons.backend:TorchBackend", "reference PyTorch time loop (any device, any configuration)"),
]

#: (encoder name, "module:attribute", description)
ENCODERS: list[tuple[str, str, str]] = [
    ("rate", "spikekit_neurons.encoders:RateEncoder", "Bernoulli rate coding, (B, ...) -> (B, T, ...)"),
    ("poisson", "spikekit_neurons.encoders:RateEncoder", "alias of rate (discrete-time Poisson)"),
    ("latency", "spikekit_neurons.encoders:LatencyEncoder", "time-to-first-spike coding"),
    ("delta", "spikekit_neurons.encoders:DeltaEncoder", "send-on-delta threshold-crossing coding of a signal"),
    ("repeat", "spikekit_neurons.encoders:RepeatEncoder", "repeat a static input at every step"),
]
