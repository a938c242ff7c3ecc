"""Discretisation helpers of ``sinabs.backend.dynapcnn.discretize``: 8-bit weights and biases, 16-bit thresholds
and states, one common scale per layer (see :mod:`spikekit_speck.discretize` for the rule)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from spikekit_speck.discretize import (
    STATE_PRECISION_BITS,
    WEIGHT_PRECISION_BITS,
    determine_discretization_scale,
    discretize_conv_spike,
    discretize_conv_spike_,
    discretize_params,
    discretize_scalar,
    discretize_tensor,
)
from spikekit_speck.recognise import number_of, threshold_of

__all__ = [
    "DYNAPCNN_WEIGHT_PRECISION_BITS",
    "DYNAPCNN_STATE_PRECISION_BITS",
    "determine_discretization_scale",
    "discretize_conv",
    "discretize_conv_",
    "discretize_conv_spike",
    "discretize_conv_spike_",
    "discretize_scalar",
    "discretize_spk",
    "discretize_spk_",
    "discretize_tensor",
]

DYNAPCNN_WEIGHT_PRECISION_BITS = WEIGHT_PRECISION_BITS
DYNAPCNN_STATE_PRECISION_BITS = STATE_PRECISION_BITS


def discretize_conv_(
    layer: nn.Conv2d,
    spk_thr: float,
    spk_thr_low: float,
    spk_state: torch.Tensor | None = None,
    to_int: bool = True,
) -> nn.Conv2d:
    """Discretise ``layer`` in place, with the scale its spiking layer (given by its thresholds and state) needs."""
    if not isinstance(layer, nn.Conv2d):
        raise TypeError(f"`conv_lyr` must be of type `Conv2d`, got {type(layer).__name__}")
    params = discretize_params(layer.weight, layer.bias, spk_thr, spk_thr_low, spk_state)
    layer.weight.data = params.weight
    if layer.bias is not None:
        layer.bias.data = params.bias
    return layer


def discretize_conv(
    layer: nn.Conv2d,
    spk_thr: float,
    spk_thr_low: float,
    spk_state: torch.Tensor | None = None,
    to_int: bool = True,
) -> nn.Conv2d:
    """A discretised copy of ``layer`` (see :func:`discretize_conv_`)."""
    return discretize_conv_(copy.deepcopy(layer), spk_thr, spk_thr_low, spk_state, to_int)


def discretize_spk_(
    layer: nn.Module, conv_weight: torch.Tensor, conv_bias: torch.Tensor | None = None, to_int: bool = True
) -> nn.Module:
    """Discretise an IAF layer in place, with the scale its preceding conv's weight and bias need."""
    v_mem = getattr(layer, "v_mem", None)
    initialised = v_mem is not None and v_mem.numel() > 0
    params = discretize_params(
        conv_weight,
        conv_bias,
        threshold_of(layer),
        number_of(layer, "min_v_mem", required=True),
        v_mem if initialised else None,
    )
    if initialised and params.v_mem is not None:
        layer.v_mem.data = params.v_mem
    layer.min_v_mem = nn.Parameter(torch.tensor(float(params.min_v_mem)), requires_grad=False)
    layer.spike_threshold = nn.Parameter(torch.tensor(float(params.threshold)), requires_grad=False)
    return layer


def discretize_spk(
    layer: nn.Module, conv_weight: torch.Tensor, conv_bias: torch.Tensor | None = None, to_int: bool = True
) -> nn.Module:
    """A discretised copy of an IAF layer (see :func:`discretize_spk_`)."""
    return discretize_spk_(copy.deepcopy(layer), conv_weight, conv_bias, to_int)
