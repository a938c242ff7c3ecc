"""The two rewrites of weight layers that putting a model on the chip needs: a ``Linear`` as a ``Conv2d`` whose
kernel covers its whole input, and a ``BatchNorm`` folded into the ``Conv2d`` / ``Linear`` before it."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TypeVar

from torch import nn

__all__ = ["linear_to_conv", "merge_bn"]

WeightLayer = TypeVar("WeightLayer", bound=nn.Linear | nn.Conv2d)


def linear_to_conv(
    linear: nn.Linear, input_shape: Sequence[int], name: str | None = None, bias: bool = True, init: bool = True
) -> nn.Conv2d:
    """The ``Conv2d`` that computes ``linear`` on a ``(C, H, W)`` input: one ``H x W`` kernel per output feature.

    Args:
        linear: the layer (not changed).
        input_shape: ``(C, H, W)`` arriving at it.
        name: the layer's name, for the error message.
        bias: keep the Linear's bias (when it has one); False gives a bias-free Conv2d.
        init: build the Conv2d with torch's initialisation (drawing random numbers, as sinabs's conversions do) before
            its weights are overwritten; False draws nothing.

    Raises:
        ValueError: ``linear.in_features`` is not ``C * H * W``.
    """
    c, h, w = (int(n) for n in input_shape)
    if linear.in_features != c * h * w:
        raise ValueError(
            f"Linear {name or linear!r} expects {linear.in_features} inputs but receives {c}x{h}x{w} = {c * h * w}"
        )
    with_bias = bias and linear.bias is not None
    args = (c, linear.out_features, (h, w))
    conv = nn.Conv2d(*args, bias=with_bias) if init else nn.utils.skip_init(nn.Conv2d, *args, bias=with_bias)
    conv.weight.data = linear.weight.data.detach().clone().reshape(linear.out_features, c, h, w)
    if with_bias:
        assert conv.bias is not None and linear.bias is not None  # built with a bias because linear has one
        conv.bias.data = linear.bias.data.detach().clone()
    return conv


def merge_bn(weight_layer: WeightLayer, bn: nn.BatchNorm1d | nn.BatchNorm2d) -> WeightLayer:
    """A copy of a Conv2d / Linear with a following BatchNorm folded into its weight and bias.

    As sinabs: ``factor = gamma / sqrt(running_var)`` (the BatchNorm's ``eps`` is not added),
    ``bias' = beta + (bias - running_mean) * factor``, ``weight' = weight * factor`` per output channel.

    Raises:
        ValueError: the BatchNorm keeps no running statistics.
    """
    mu, var = bn.running_mean, bn.running_var
    if mu is None or var is None:
        raise ValueError(
            f"{type(bn).__name__} keeps no running statistics (track_running_stats=False): nothing to fold into "
            f"{type(weight_layer).__name__}"
        )
    gamma, beta = (bn.weight, bn.bias) if bn.affine else (1.0, 0.0)
    factor = gamma / var.sqrt()
    weight = weight_layer.weight.data.clone().detach()
    bias = 0.0 if weight_layer.bias is None else weight_layer.bias.data.clone().detach()
    weight_layer = copy.deepcopy(weight_layer)
    new_bias = beta + (bias - mu) * factor
    if weight_layer.bias is None:
        weight_layer.bias = nn.Parameter(new_bias)
    else:
        weight_layer.bias.data = new_bias
    factor = factor.reshape(*factor.shape, *([1] * (weight.ndim - factor.ndim)))
    weight_layer.weight.data = weight * factor
    return weight_layer
