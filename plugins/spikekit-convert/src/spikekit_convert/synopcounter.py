"""Whole-model statistics: :class:`SNNAnalyzer` (firing rates and synops) and :class:`SynOpCounter`
(``spikekit.synopcounter``).

Both are deprecated in sinabs in favour of the hooks in :mod:`spikekit.hooks`, and keep that deprecation here;
they are kept because much sinabs code uses them. The numbers are sinabs's, with one fix: the model-level synop
total includes the average-pooling correction that the per-layer numbers already have.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import Any, Protocol, TypeGuard, cast

import torch
from torch import nn

from spikekit.state import SqueezeMixin, StatefulLayer
from spikekit_convert.hooks import _avgpool_scale, conv_connection_map

__all__ = ["SNNAnalyzer", "SynOpCounter", "spiking_hook", "synops_hook"]


class _SpikeCounters(Protocol):
    """The attributes SNNAnalyzer adds to a spiking layer (set at run time, so not declared by its class)."""

    n_neurons: int
    input_: torch.Tensor
    output_: torch.Tensor
    acc_output: torch.Tensor
    n_batches: int


class _SynopsCounters(Protocol):
    """The attributes SNNAnalyzer adds to a Conv2d / Linear (set at run time, so not declared by its class)."""

    synops: torch.Tensor
    accumulated_synops: torch.Tensor
    n_batches: int
    num_timesteps: int
    unflattened_shape: tuple[int, int] | None
    connection_map: torch.Tensor
    fanout: int


def _counts_spikes(module: nn.Module) -> TypeGuard[_SpikeCounters]:
    return hasattr(module, "acc_output")


class _NeuronCount(Protocol):
    n_neurons: int


def _counts_neurons(module: nn.Module) -> TypeGuard[_NeuronCount]:
    return hasattr(module, "n_neurons")


def _counts_synops(module: nn.Module) -> TypeGuard[_SynopsCounters]:
    return hasattr(module, "synops")


def spiking_hook(module: nn.Module, input_: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
    """SNNAnalyzer's forward hook on spiking layers: keeps the last input/output and accumulates the output.

    Squeeze layers' ``(B*T, ...)`` tensors are unfolded to ``(B, T, ...)``. Sets ``n_neurons`` (neurons per
    sample), ``input_``, ``output_`` (with graph), ``acc_output`` (sum of outputs over calls, detached history)
    and ``n_batches``.
    """
    x = input_[0]
    if isinstance(module, SqueezeMixin):
        x = x.reshape(module.batch_size, module.num_timesteps, *x.shape[1:])  # (B, T, ...)
        output = output.reshape(module.batch_size, module.num_timesteps, *output.shape[1:])
    counters = cast(_SpikeCounters, module)  # SNNAnalyzer set them up before registering this hook
    counters.n_neurons = output[0, 0].numel()
    counters.input_ = x
    counters.output_ = output
    counters.acc_output = counters.acc_output.detach() + output
    counters.n_batches = counters.n_batches + 1


def synops_hook(module: nn.Module, input_: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
    """SNNAnalyzer's forward hook on ``Conv2d`` / ``Linear``: synops of this call, summed over time.

    With ``module.unflattened_shape = (B, T)`` (the model has Squeeze layers) the input is unfolded to
    ``(B, T, ...)`` and summed over time; a ``Linear`` with input ``(B, T, F)`` is summed over dim 1; otherwise
    ``num_timesteps = 0``. Then ``synops = mean_0(x * fanout_map).sum()`` for a convolution and
    ``mean_0(x).sum() * out_features`` for a linear layer (kept with graph), ``accumulated_synops`` adds it up.
    """
    if len(input_) != 1:
        raise ValueError(f"SNNAnalyzer's synops hook on {type(module).__name__} supports one input, got {len(input_)}")
    x = input_[0]
    counters = cast(_SynopsCounters, module)  # SNNAnalyzer set them up before registering this hook
    if counters.unflattened_shape is not None:
        batch_size, num_timesteps = counters.unflattened_shape
        x = x.reshape(batch_size, num_timesteps, *x.shape[1:])  # (B, T, ...)
        output = output.reshape(batch_size, num_timesteps, *output.shape[1:])
        counters.num_timesteps = x.shape[1]
        x, output = x.sum(1), output.sum(1)
    elif isinstance(module, nn.Linear) and x.ndim >= 3:
        counters.num_timesteps = x.shape[1]
        x, output = x.sum(1), output.sum(1)
    else:
        counters.num_timesteps = 0
    if isinstance(module, nn.Conv2d):
        if counters.connection_map.shape != x.shape:
            # built for the whole input shape, as sinabs does (so a batch-size change rebuilds it)
            built = conv_connection_map(module, x.shape[1:], output.shape[1:], module.weight.device)
            counters.connection_map = built.expand(x.shape[0], *built.shape[1:])
        counters.synops = (x * counters.connection_map).mean(0).sum()
    else:
        counters.synops = x.mean(0).sum() * counters.fanout
    counters.accumulated_synops = counters.accumulated_synops.detach() + counters.synops
    counters.n_batches = counters.n_batches + 1


class SNNAnalyzer:
    """Collects firing rates of every spiking layer and synaptic operations of every ``Conv2d`` / ``Linear``.

    Statistics, per layer (``get_layer_statistics``):

    * spiking layers: ``n_neurons``, last ``input`` and ``output`` (``(B, T, ...)``), ``firing_rate``
      (``output.mean()``), ``firing_rate_per_neuron`` (``output.mean((0, 1))``);
    * parameter layers: ``synops`` (synops per sample over all time steps, times the ``k_h * k_w`` of every
      ``AvgPool2d`` since the previous parameter layer), ``num_timesteps``, ``time_window = T * dt`` and
      ``synops/s = synops / T / dt * 1000`` (``dt`` in milliseconds; ``inf`` when the time dimension is unknown).

    With ``average=True`` outputs and synops are averaged over all forward passes since construction or
    :meth:`reset`. The last-call values keep their autograd graph, so they can enter a loss.

    Args:
        model: the spiking model; hooks are registered on its modules now.
        dt: milliseconds per time step.

    Example:
        >>> analyzer = SNNAnalyzer(snn)
        >>> snn(x)
        >>> analyzer.get_model_statistics()["synops"]
    """

    def __init__(self, model: nn.Module, dt: float = 1.0):
        warnings.warn(
            "SNNAnalyzer is deprecated. Please use `spikekit.hooks` instead", DeprecationWarning, stacklevel=2
        )
        self.model = model
        self.dt = dt
        self.handles: list[Any] = []
        self._setup_hooks()

    def _setup_hooks(self) -> None:
        # A squeezed model's parameter layers see (B*T, ...) tensors; the last Squeeze layer says how to unfold.
        unflattened_shape = None
        for layer in self.model.modules():
            if isinstance(layer, SqueezeMixin):
                unflattened_shape = (layer.batch_size, layer.num_timesteps)
        for layer in self.model.modules():
            if isinstance(layer, StatefulLayer) and layer.does_spike:
                spiking = cast(_SpikeCounters, layer)  # the counters are added here
                spiking.acc_output = torch.tensor(0)
                spiking.n_batches = 0
                self.handles.append(layer.register_forward_hook(spiking_hook))
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                counted = cast(_SynopsCounters, layer)  # the counters are added here
                counted.accumulated_synops = torch.tensor(0)
                counted.synops = torch.tensor(0)
                counted.n_batches = 0
                counted.unflattened_shape = unflattened_shape
                if isinstance(layer, nn.Conv2d):
                    counted.connection_map = torch.tensor([])
                else:
                    counted.fanout = layer.out_features
                self.handles.append(layer.register_forward_hook(synops_hook))

    def _remove_hooks(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def __del__(self) -> None:
        self._remove_hooks()

    def reset(self) -> None:
        """Remove the hooks, zero every counter and register the hooks again."""
        self._remove_hooks()
        self._setup_hooks()

    def _scaled_synops(self, average: bool) -> dict[str, tuple[_SynopsCounters, Any, int]]:
        """``{name: (module, synops, avgpool_scale)}`` for every hooked parameter layer, in module order."""
        result: dict[str, tuple[_SynopsCounters, Any, int]] = {}
        pending: list[int] = []
        for name, module in self.model.named_modules():
            if isinstance(module, nn.AvgPool2d):
                pending.append(_avgpool_scale(module, name))
            if _counts_synops(module):
                scale = math.prod(pending)
                pending = []
                synops = module.accumulated_synops / module.n_batches if average else module.synops
                result[name] = (module, synops, scale)
        return result

    def get_layer_statistics(self, average: bool = False) -> dict[str, dict[str, dict[str, Any]]]:
        """``{"spiking": {name: {...}}, "parameter": {name: {...}}}`` (see the class docstring).

        Args:
            average: average over all forward passes instead of reporting the last one.
        """
        stats: dict[str, dict[str, dict[str, Any]]] = {"spiking": {}, "parameter": {}}
        for name, module in self.model.named_modules():
            if _counts_spikes(module):
                stats["spiking"][name] = {
                    "n_neurons": module.n_neurons,
                    "input": module.input_,
                    "output": module.acc_output / module.n_batches if average else module.output_,
                    "firing_rate": module.acc_output.mean() / module.n_batches if average else module.output_.mean(),
                    "firing_rate_per_neuron": (
                        module.acc_output.mean((0, 1)) / module.n_batches if average else module.output_.mean((0, 1))
                    ),
                }
        for name, (module, synops, scale) in self._scaled_synops(average).items():
            scaled = synops * scale
            per_second = scaled / module.num_timesteps / self.dt * 1000
            stats["parameter"][name] = {
                "synops": scaled,
                "num_timesteps": module.num_timesteps,
                "time_window": module.num_timesteps * self.dt,
                "SynOps/s": per_second,
                "synops/s": per_second,
            }
        return stats

    def get_model_statistics(self, average: bool = False) -> dict[str, Any]:
        """Totals over the model: ``firing_rate`` (mean over every spiking neuron), ``synops`` (sum over layers,
        with the average-pooling correction), ``n_spiking_neurons``.

        Args:
            average: average over all forward passes instead of reporting the last one.
        """
        firing_rates = []
        n_neurons = torch.tensor(0.0)
        for module in self.model.modules():
            if _counts_spikes(module):
                if module.n_batches > 0:
                    per_neuron = (
                        module.acc_output.mean((0, 1)) / module.n_batches if average else module.output_.mean((0, 1))
                    )
                    firing_rates.append(per_neuron.ravel())
                else:
                    firing_rates.append(torch.tensor([0.0]))
            if _counts_neurons(module):
                n_neurons = n_neurons + module.n_neurons
        synops = torch.tensor(0.0)
        for counted, layer_synops, scale in self._scaled_synops(average).values():
            if counted.n_batches > 0:
                synops = synops + layer_synops * scale
        stats: dict[str, Any] = {}
        if firing_rates:
            stats["firing_rate"] = torch.cat(firing_rates).mean()
        stats["synops"] = synops
        stats["n_spiking_neurons"] = n_neurons.to(synops.device)
        return stats


class SynOpCounter:
    """Synaptic operations of the ``NeuromorphicReLU`` layers of an analog model (their ``activity``).

    ``NeuromorphicReLU(fanout=f)`` records ``activity = output.sum() / len(output) * f`` on every forward pass;
    calling the counter returns those values (summed when ``sum_activations``). Useful as a synop penalty while
    training the ANN before conversion.

    Args:
        modules: an iterable of modules, e.g. ``model.modules()``; those that are ``NeuromorphicReLU`` with
            ``fanout > 0`` are counted.
        sum_activations: return one total instead of the per-layer list.

    Example:
        >>> counter = SynOpCounter(ann.modules())
        >>> ann(x)
        >>> loss = task_loss + 1e-6 * counter()
    """

    def __init__(self, modules: Iterable[nn.Module], sum_activations: bool = True):
        warnings.warn(
            "SynOpCounter is deprecated. Please use `spikekit.hooks` instead", DeprecationWarning, stacklevel=2
        )
        import spikekit.layers as layers

        neuromorphic_relu = layers.NeuromorphicReLU
        self.modules = [m for m in modules if isinstance(m, neuromorphic_relu) and m.fanout > 0]
        if not self.modules:
            raise ValueError("SynOpCounter: no NeuromorphicReLU with fanout > 0 found in the modules given")
        self.sum_activations = sum_activations

    def __call__(self) -> torch.Tensor | list[torch.Tensor]:
        activities = [m.activity for m in self.modules]
        return torch.stack(activities).sum() if self.sum_activations else activities
