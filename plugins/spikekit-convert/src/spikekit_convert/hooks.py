"""Forward hooks that measure synaptic operations and firing rates (``spikekit.hooks``).

Register them with ``module.register_forward_hook``; each writes into the module's ``hook_data`` dict (created on
first use). The values keep their autograd graph, so they can be used in a training loss (for example to penalise
synaptic operations), exactly as in sinabs.

Synaptic operations (synops) count, for a layer with weights, how many synapses the incoming spikes travel
along: an input element carrying ``n`` spikes that fans out to ``f`` postsynaptic neurons contributes ``n * f``.
For ``nn.Linear`` ``f = out_features``; for ``nn.Conv2d`` the fan-out of every input position is read off a
*connection map* (see :func:`conv_connection_map`), which takes stride, padding, dilation, groups and the borders
into account. Counts are summed over neurons and averaged over the first (batch or batch*time) dimension.

Example:
    >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), IAFSqueeze(batch_size=1), nn.Flatten(), nn.Linear(64, 10))
    >>> register_synops_hooks(model)
    >>> model(spikes)  # spikes: (T, 1, 6, 6)
    >>> model.hook_data["total_synops_per_timestep"]
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from typing import Any, Protocol, cast

import torch
from torch import nn

from spikekit.state import SqueezeMixin
from spikekit_convert.plugin import HOOK_NAMES

__all__ = list(HOOK_NAMES)  # spikekit.hooks shows exactly these names


def _single_input(hook: str, module: nn.Module, inputs: Sequence[Any]) -> torch.Tensor:
    if len(inputs) != 1:
        raise ValueError(f"{hook} on {type(module).__name__} expects exactly one input tensor, got {len(inputs)}")
    return inputs[0]


def conv_connection_map(
    layer: nn.Conv2d,
    input_shape: Sequence[int],
    output_shape: Sequence[int],
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The fan-out of every input element of a ``Conv2d``: how many output neurons it connects to.

    A transposed convolution with all-ones weights (and the layer's kernel size, stride, padding, dilation and
    groups) applied to an all-ones output of ``output_shape`` gives, at every input position, the number of
    (output channel, output position) pairs whose receptive field contains it.

    Args:
        layer: the convolution.
        input_shape: ``(C_in, H, W)``.
        output_shape: ``(C_out, H_out, W_out)``, the layer's output shape for ``input_shape``.
        device: where the map lives; the weight's device when None.

    Returns:
        A tensor of shape ``(1, C_in, H, W)``, without gradient.

    Example:
        >>> conv_connection_map(nn.Conv2d(1, 1, 3), (1, 4, 4), (1, 2, 2))[0, 0, 0]
        tensor([1., 2., 2., 1.])
    """
    padding = layer.padding
    if isinstance(padding, str):
        raise ValueError(f"conv_connection_map needs the padding of {layer} as integers, got padding={padding!r}")
    deconv = nn.ConvTranspose2d(
        layer.out_channels,
        layer.in_channels,
        kernel_size=(layer.kernel_size[0], layer.kernel_size[1]),
        stride=(layer.stride[0], layer.stride[1]),
        padding=(padding[0], padding[1]),
        dilation=(layer.dilation[0], layer.dilation[1]),
        groups=layer.groups,
        bias=False,
    )
    with torch.no_grad():
        deconv.weight.fill_(1.0)
        ones = torch.ones((1, *output_shape))
        connection_map = deconv(ones, output_size=(1, *input_shape)).detach()
    target = layer.weight.device if device is None else torch.device(device)
    return connection_map.to(target)


class _HookData(Protocol):
    hook_data: dict[str, Any]


def get_hook_data_dict(module: nn.Module) -> dict[str, Any]:
    """``module.hook_data``, created as an empty dict if the module has none yet."""
    holder = cast(_HookData, module)  # an attribute these hooks add at run time
    if not hasattr(module, "hook_data"):
        holder.hook_data = {}
    return holder.hook_data


def input_diff_hook(module: nn.Conv2d | nn.Linear, input_: Sequence[torch.Tensor], output: torch.Tensor) -> None:
    """Store ``hook_data["diff_output"] = layer_{|W|}(x) - |layer(x)|`` (bias-free ``|W|`` layer).

    The difference is zero when no output mixes positive and negative weighted input; penalising it during
    training reduces the mismatch between a synchronous simulation and an asynchronous (event-driven) chip.
    The convolution uses the layer's stride, padding and groups (not its dilation).

    Args:
        module: ``nn.Conv2d`` or ``nn.Linear``.
        input_: the forward hook's input tuple (one tensor).
        output: the layer's output; ``diff_output`` has its shape.
    """
    data = get_hook_data_dict(module)
    x = _single_input("input_diff_hook", module, input_)
    if isinstance(module, nn.Conv2d):
        abs_out = nn.functional.conv2d(
            x, module.weight.abs(), stride=module.stride, padding=module.padding, groups=module.groups
        )
    else:
        abs_out = nn.functional.linear(x, module.weight.abs())
    data["diff_output"] = abs_out - output.abs()


def firing_rate_hook(module: nn.Module, input_: Any, output: torch.Tensor) -> None:
    """Store ``hook_data["firing_rate"] = output.mean()``: spikes per neuron per time step (a scalar)."""
    get_hook_data_dict(module)["firing_rate"] = output.mean()


def firing_rate_per_neuron_hook(module: nn.Module, input_: Any, output: torch.Tensor) -> None:
    """Store ``hook_data["firing_rate_per_neuron"]``: each neuron's spikes per time step, averaged over the batch.

    The mean runs over dim 0 for Squeeze layers (``(B*T, ...)`` output) and over dims 0 and 1 otherwise
    (``(B, T, ...)``), so the result has the neuron shape.
    """
    data = get_hook_data_dict(module)
    data["firing_rate_per_neuron"] = output.mean(0) if isinstance(module, SqueezeMixin) else output.mean((0, 1))


def conv_layer_synops_hook(module: nn.Conv2d, input_: Sequence[torch.Tensor], output: torch.Tensor) -> None:
    """Store ``hook_data["layer_synops_per_timestep"] = sum over neurons of mean_0(x * fanout_map)``.

    ``x`` has shape ``(N, C, H, W)``, with ``N`` = batch (times time steps for squeezed models). The connection
    map (:func:`conv_connection_map`) is cached in ``hook_data["connection_map"]`` and rebuilt when the input's
    neuron shape or device changes. Average pooling before the layer is not accounted for here; see
    :class:`ModelSynopsHook`.
    """
    data = get_hook_data_dict(module)
    x = _single_input("conv_layer_synops_hook", module, input_)
    cached = data.get("connection_map")
    if cached is None or cached.shape[1:] != x.shape[1:] or cached.device != x.device:
        data["connection_map"] = conv_connection_map(module, x.shape[1:], output.shape[1:], x.device)
    data["layer_synops_per_timestep"] = (x * data["connection_map"]).mean(0).sum()


def linear_layer_synops_hook(module: nn.Linear, input_: Sequence[torch.Tensor], output: torch.Tensor) -> None:
    """Store ``hook_data["layer_synops_per_timestep"] = mean_0(x).sum() * out_features``.

    For an input ``(N, F)`` that is the per-sample synop count; for ``(B, T, F)`` it is the total over time (as in
    sinabs).
    """
    data = get_hook_data_dict(module)
    x = _single_input("linear_layer_synops_hook", module, input_)
    data["layer_synops_per_timestep"] = x.mean(0).sum() * module.out_features


def _avgpool_scale(pool: nn.AvgPool2d, where: str) -> int:
    """``k_h * k_w`` of an average-pooling layer; warns when kernel and stride differ (the count is then off)."""
    if pool.kernel_size != pool.stride:
        warnings.warn(
            "In order for the Synops counter to work accurately the pooling layers kernel size should match "
            f"their strides. At the moment at layer {where}, the kernel_size = {pool.kernel_size}, "
            f"the stride = {pool.stride}.",
            UserWarning,
            stacklevel=3,
        )
    ks = pool.kernel_size
    return ks**2 if isinstance(ks, int) else ks[0] * ks[1]


@dataclasses.dataclass
class ModelSynopsHook:
    """Forward hook for an ``nn.Sequential``: collects its layers' synops and corrects for average pooling.

    Needs :func:`conv_layer_synops_hook` / :func:`linear_layer_synops_hook` on the layers (see
    :func:`register_synops_hooks`). After every forward pass, for each child with weights that has a layer synop
    count, ``synops_per_timestep = layer_synops_per_timestep * prod(k_h * k_w)`` over the ``AvgPool2d`` layers
    since the previous layer with weights (average pooling divides spike counts by ``k_h * k_w``). Results:

    * child ``hook_data["synops_per_timestep"]``;
    * Sequential ``hook_data["synops_per_timestep"][index]`` and ``hook_data["total_synops_per_timestep"]``;
    * with ``dt`` (seconds per time step): the same as ``..._per_second`` (divided by ``dt``).

    Attributes:
        dt: the simulation time step in seconds, or None.
    """

    dt: float | None = None

    def __call__(self, module: nn.Sequential, input_: Any, output: Any) -> None:
        model_data = get_hook_data_dict(module)
        model_data["total_synops_per_timestep"] = 0.0
        model_data["synops_per_timestep"] = {}
        if self.dt is not None:
            model_data["total_synops_per_second"] = 0.0
            model_data["synops_per_second"] = {}
        pending: list[int] = []
        for index, layer in enumerate(module):
            if isinstance(layer, nn.AvgPool2d):
                pending.append(_avgpool_scale(layer, str(index)))
            if not hasattr(layer, "weight"):
                continue
            layer_data = getattr(layer, "hook_data", None)
            if layer_data is not None and "layer_synops_per_timestep" in layer_data:
                synops = layer_data["layer_synops_per_timestep"] * math.prod(pending)
                layer_data["synops_per_timestep"] = synops
                model_data["synops_per_timestep"][index] = synops
                model_data["total_synops_per_timestep"] += synops
                if self.dt is not None:
                    per_second = synops / self.dt
                    layer_data["synops_per_second"] = per_second
                    model_data["synops_per_second"][index] = per_second
                    model_data["total_synops_per_second"] += per_second
            pending = []  # any layer with weights ends the pooling run, counted or not


def register_synops_hooks(module: nn.Sequential, dt: float | None = None) -> None:
    """Register the synop hooks on every ``Conv2d`` / ``Linear`` child of ``module`` and a :class:`ModelSynopsHook`.

    Args:
        module: an ``nn.Sequential`` (only its direct children are hooked).
        dt: seconds per time step, to also get synops per second.

    Example:
        >>> register_synops_hooks(snn, dt=1e-3)
        >>> snn(x)
        >>> snn.hook_data["total_synops_per_second"]
    """
    if not isinstance(module, nn.Sequential):
        raise TypeError(f"register_synops_hooks expects an nn.Sequential, got {type(module).__name__}")
    for layer in module:
        if isinstance(layer, nn.Conv2d):
            layer.register_forward_hook(conv_layer_synops_hook)
        elif isinstance(layer, nn.Linear):
            layer.register_forward_hook(linear_layer_synops_hook)
    module.register_forward_hook(ModelSynopsHook(dt))
