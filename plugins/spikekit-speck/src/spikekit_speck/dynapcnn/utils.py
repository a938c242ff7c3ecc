"""Helpers of ``sinabs.backend.dynapcnn.utils``: device ids, input shapes, BatchNorm folding, topological order."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import torch
from torch import nn

from spikekit_speck.chip import get_device_id, parse_device_id, standardize_device_id
from spikekit_speck.dvs import Crop2d, DVSLayer
from spikekit_speck.dynapcnn.exceptions import InputConfigurationError
from spikekit_speck.layers import WeightLayer, merge_bn
from spikekit_speck.mapping import topological_sorting

__all__ = [
    "COMPLETELY_IGNORED_LAYER_TYPES",
    "IGNORED_LAYER_TYPES",  # noqa: F822  (resolved on first use by __getattr__)
    "Edge",
    "parse_device_id",
    "get_device_id",
    "standardize_device_id",
    "topological_sorting",
    "convert_cropping2dlayer_to_crop2d",
    "merge_bn",
    "WeightLayer",
    "merge_conv_bn",
    "extend_readout_layer",
    "infer_input_shape",
]

#: Dropped from the graph before anything else (they do nothing at inference).
COMPLETELY_IGNORED_LAYER_TYPES = (nn.Identity, nn.Dropout, nn.Dropout2d)


def __getattr__(name: str) -> Any:
    # ``IGNORED_LAYER_TYPES`` holds spikekit's Merge class, which comes from a plugin: resolve it on first use.
    if name == "IGNORED_LAYER_TYPES":
        from spikekit.layers import Merge

        value = (nn.Flatten, Merge)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


Edge = tuple[int, int]


def convert_cropping2dlayer_to_crop2d(layer: nn.Module, input_shape: tuple[int, int]) -> Crop2d:
    """The :class:`Crop2d` equivalent of a ``Cropping2dLayer`` applied to ``(height, width)`` input."""
    h, w = input_shape
    top, bottom, left, right = (int(getattr(layer, f"{side}_crop")) for side in ("top", "bottom", "left", "right"))
    return Crop2d(((top, h - bottom), (left, w - right)))


def merge_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """Deprecated name of :func:`merge_bn`."""
    warnings.warn("`merge_conv_bn` is deprecated. Use `merge_bn` instead.", DeprecationWarning, stacklevel=2)
    return merge_bn(conv, bn)


def extend_readout_layer(model: Any) -> Any:
    """A copy of ``model`` whose exit layers have ``4 * (n - 1) + 1`` output channels, channel ``i`` moved to
    ``4 * i`` (Speck 2E / 2F read out every fourth channel)."""
    model = copy.deepcopy(model)
    for exit_layer in model.exit_layers:
        conv = exit_layer.conv_layer
        old_weight, old_bias = conv.weight.data, conv.bias
        n = conv.out_channels
        conv.out_channels = (n - 1) * 4 + 1
        weight = torch.zeros((conv.out_channels, *old_weight.shape[1:]), dtype=old_weight.dtype)
        weight[::4] = old_weight
        conv.weight.data = weight
        if old_bias is not None:
            bias = torch.zeros((conv.out_channels,), dtype=old_bias.dtype)
            bias[::4] = old_bias.data
            old_bias.data = bias  # old_bias is conv.bias
    model(torch.zeros(size=(1, *model.input_shape)))
    return model


def infer_input_shape(snn: nn.Module, input_shape: tuple[int, int, int] | None = None) -> tuple[int, int, int]:
    """``(channels, height, width)`` of the input: ``input_shape``, or the one of a DVSLayer in ``snn``.

    Raises:
        InputConfigurationError: ``input_shape`` is not of length 3, disagrees with the DVSLayer's, or is missing
            while ``snn`` has no DVSLayer.
    """
    if input_shape is not None and len(input_shape) != 3:
        raise InputConfigurationError(
            f"input_shape expected to have length 3 or None but input_shape={input_shape} given."
        )
    for module in snn.modules():
        if isinstance(module, DVSLayer):
            if input_shape is not None and input_shape != module.input_shape:
                raise InputConfigurationError(
                    f"Input shape from `DVSLayer` {module.input_shape} does not match the specified input_shape "
                    f"{input_shape}"
                )
            return module.input_shape
    if input_shape is None:
        raise InputConfigurationError(
            "No input shape could be inferred. Either provide it explicitly with the `input_shape` argument, or "
            "provide a model with `DVSLayer` instance."
        )
    return input_shape
