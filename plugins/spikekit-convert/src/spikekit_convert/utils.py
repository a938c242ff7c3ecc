"""Conversion helpers added to ``spikekit.utils``: data-based weight normalisation, activation read-out and small
index / pair helpers. (The state helpers ``reset_states``, ``zero_grad``, ``set_batch_size``, ... live in the
core's ``spikekit.utils``.)"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from spikekit.state import StatefulLayer
from spikekit_convert.checks import require_module

__all__ = [
    "normalize_weights",
    "get_activations",
    "get_network_activations",
    "get_new_index",
    "expand_to_pair",
    "collapse_pair",
]

T = TypeVar("T")


def normalize_weights(
    ann: nn.Module,
    sample_data: torch.Tensor,
    output_layers: Sequence[str],
    param_layers: Sequence[str],
    percentile: float = 99,
) -> None:
    """Rescale weights so that each chosen layer's activity peaks near 1 (data-based normalisation).

    For each pair ``(output_layers[i], param_layers[i])``, in order: run ``ann`` on ``sample_data`` (no
    gradients), take ``λ = percentile(activations of output_layers[i], percentile)`` over all elements, and
    multiply every parameter (weight and bias) of ``param_layers[i]`` by ``1 / λ``. Later pairs see the earlier
    rescaling. With spike threshold 1 the converted network then rarely needs more than one spike per neuron and
    time step (Rueckauer et al. 2017, "Conversion of continuous-valued deep networks to efficient event-driven
    networks for image classification").

    Args:
        ann: the analog model, changed in place.
        sample_data: a representative input batch.
        output_layers: names of direct children whose output is normalised (typically the ReLUs).
        param_layers: names of direct children whose parameters are scaled (the layer before each output layer).
        percentile: in ``[0, 100]``; 100 normalises by the maximum, 99 (default) is robust to outliers.

    Example:
        >>> normalize_weights(ann, x_train[:500], ["1", "4"], ["0", "3"], percentile=99.9)
    """
    require_module("normalize_weights", "ann", ann)
    if isinstance(percentile, bool) or not isinstance(percentile, numbers.Real) or not 0 <= percentile <= 100:
        raise ValueError(f"normalize_weights: percentile must be a number in [0, 100], got {percentile!r}")
    if len(output_layers) != len(param_layers):
        raise ValueError(
            f"normalize_weights expects one param layer per output layer, got {len(output_layers)} output layers "
            f"and {len(param_layers)} param layers"
        )
    children = dict(ann.named_children())
    for out_name, param_name in zip(output_layers, param_layers):
        for name in (out_name, param_name):
            if name not in children:
                raise KeyError(
                    f"normalize_weights: {name!r} is not a direct child of the model; children: {list(children)}"
                )
        captured: list[torch.Tensor] = []

        def capture(module: nn.Module, inp: Any, out: torch.Tensor, store: list[torch.Tensor] = captured) -> None:
            store.append(out.detach().clone())

        handle = children[out_name].register_forward_hook(capture)
        try:
            with torch.no_grad():
                ann(sample_data)
                if not captured:
                    raise ValueError(
                        f"normalize_weights: output layer {out_name!r} was not called when the model ran on "
                        "sample_data; name a direct child the forward pass uses"
                    )
                scale = np.percentile(captured[-1].cpu().numpy(), percentile)
                _check_scale(out_name, param_name, percentile, scale)
                for p in children[param_name].parameters():
                    p.data *= 1 / scale
        finally:
            handle.remove()


def _check_scale(out_name: str, param_name: str, percentile: float, scale: float) -> None:
    """Refuse a normalisation constant that would make the weights inf / NaN or flip their sign."""
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(
            f"normalize_weights: the {percentile}th percentile of layer {out_name!r}'s activations on sample_data is "
            f"{scale}, so the parameters of {param_name!r} cannot be scaled by 1/{scale}; expected a positive "
            "finite value: pass sample_data that activates this layer, or a higher percentile"
        )


def get_activations(
    torchanalog_model: nn.Module, tsrData: torch.Tensor, name_list: Sequence[str] | None = None
) -> list[np.ndarray]:
    """Outputs of named modules of an analog model for one input, as numpy arrays (the model is put in eval mode).

    Args:
        torchanalog_model: the analog model.
        tsrData: its input.
        name_list: module names (as in ``named_modules``); ``"Input"`` stands for the input itself. Default:
            ``"Input"`` and every named module. The input comes first; the others follow in execution order.
    """
    modules = dict(torchanalog_model.named_modules())
    if name_list is None:
        name_list = ["Input", *list(modules)[1:]]
    activations: list[np.ndarray] = [tsrData.detach().cpu().numpy() for name in name_list if name == "Input"]

    def hook(module: nn.Module, inp: Any, output: torch.Tensor) -> None:
        activations.append(output.detach().cpu().numpy())

    handles = [modules[name].register_forward_hook(hook) for name in name_list if name != "Input"]
    try:
        with torch.no_grad():
            torchanalog_model.eval()
            torchanalog_model(tsrData)
    finally:
        for handle in handles:
            handle.remove()
    return activations


def get_network_activations(
    model: nn.Module, inp: torch.Tensor, name_list: Sequence[str] | None = None, bRate: bool = False
) -> list[np.ndarray]:
    """Spike counts (summed over dim 0) of named modules of a spiking model for one input, as numpy arrays.

    ``"Input"`` stands for the input: its count is ``inp.sum(0) * 1000``. With ``bRate`` every entry is divided by
    ``len(inp)`` and multiplied by 1000 (a rate in Hz for 1 ms time steps).

    Args:
        model: the spiking model.
        inp: its input; dim 0 is summed over.
        name_list: module names; default ``"Input"`` and every stateful layer.
        bRate: return rates instead of counts.
    """
    modules = dict(model.named_modules())
    if name_list is None:
        name_list = ["Input", *[name for name, m in modules.items() if isinstance(m, StatefulLayer)]]
    counts: list[np.ndarray] = []

    def hook(module: nn.Module, i: Any, output: torch.Tensor) -> None:
        counts.append(output.float().sum(0).cpu().numpy())

    handles = []
    for name in name_list:
        if name == "Input":
            counts.append(inp.float().sum(0).cpu().numpy() * 1000)
        else:
            handles.append(modules[name].register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(inp)
    finally:
        for handle in handles:
            handle.remove()
    if bRate:
        counts = [c / len(inp) * 1000 for c in counts]
    return counts


def get_new_index(existing_indices: Iterable[int]) -> int:
    """The smallest non-negative integer not in ``existing_indices``.

    Example:
        >>> get_new_index([0, 1, 3])
        2
    """
    taken = set(existing_indices)
    return next(i for i in range(len(taken) + 1) if i not in taken)


def expand_to_pair(value: Any) -> Any:
    """``(value, value)`` for an int; anything else unchanged.

    Example:
        >>> expand_to_pair(3)
        (3, 3)
    """
    return (value, value) if isinstance(value, int) else value


def collapse_pair(pair: Iterable[T] | T) -> T:
    """The single value of an iterable whose elements are all equal (a non-iterable is returned as is).

    Raises:
        ValueError: if the elements differ.

    Example:
        >>> collapse_pair((2, 2))
        2
    """
    if isinstance(pair, Iterable):
        items = list(pair)
        if any(x != items[0] for x in items):
            raise ValueError(f"collapse_pair: all elements must be the same, got {items}")
        return items[0]
    return pair
