"""Per-layer firing rates and synaptic operations of a spiking net, measured with ``spikekit.synopcounter``."""

from __future__ import annotations

import copy
import dataclasses
import warnings

import torch
from torch import nn

__all__ = ["LayerStats", "layer_statistics"]


@dataclasses.dataclass
class LayerStats:
    """One layer's numbers on the test set.

    Attributes:
        name: the layer's name in the model (``"1"``, ``"3"``, ...).
        kind: its class name.
        neurons: neurons per sample (spiking layers), else None.
        firing_rate: mean spikes per neuron per time step (spiking layers), else None.
        synops: synaptic operations per sample over all T time steps (Conv2d / Linear layers), else None.
        rates: per-neuron firing rates (spiking layers), for the histogram.
    """

    name: str
    kind: str
    neurons: int | None = None
    firing_rate: float | None = None
    synops: float | None = None
    rates: list[float] | None = None


@torch.no_grad()
def layer_statistics(model: nn.Module, spikes: torch.Tensor) -> list[LayerStats]:
    """Run ``model`` once on ``spikes`` ``(N, T, 1, 8, 8)`` with an ``SNNAnalyzer`` attached; one row per layer.

    The analyser unflattens squeezed tensors with the layers' ``batch_size``, so a copy of the model with the
    batch size fixed to ``N`` is measured, and the model itself is left untouched.

    Synaptic operations follow sinabs: for a Conv2d, ``sum(input * fan_out_map)`` (the fan-out of each input
    element, from a transposed convolution of ones), for a Linear ``sum(input) * out_features``; both summed
    over time and averaged over samples. Firing rate = ``mean(spikes)`` over samples, time and neurons.
    """
    from spikekit.synopcounter import SNNAnalyzer
    from spikekit.utils import reset_states, set_batch_size
    from spikekit_demo.model import set_num_timesteps

    n, timesteps = spikes.shape[:2]
    probe = copy.deepcopy(model)
    probe.eval()
    set_num_timesteps(probe, timesteps)
    set_batch_size(probe, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # SNNAnalyzer is deprecated in favour of hooks
        analyzer = SNNAnalyzer(probe)
    reset_states(probe)
    probe(spikes.flatten(0, 1))  # (N*T, 1, 8, 8)
    stats = analyzer.get_layer_statistics(average=True)
    rows: list[LayerStats] = []
    for name, module in probe.named_children():
        row = LayerStats(name, type(module).__name__)
        if name in stats["spiking"]:
            s = stats["spiking"][name]
            row.neurons = int(s["n_neurons"])
            row.firing_rate = float(s["firing_rate"])
            row.rates = [float(v) for v in torch.as_tensor(s["firing_rate_per_neuron"]).flatten()]
        if name in stats["parameter"]:
            row.synops = float(stats["parameter"][name]["synops"])
        rows.append(row)
    for handle in analyzer.handles:
        handle.remove()
    return rows
