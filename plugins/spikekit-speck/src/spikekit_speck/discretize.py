"""Discretisation of a layer's parameters to the chip's integer precision, with one common scale per layer.

Weights and biases are 8-bit signed integers on chip, thresholds and membrane states 16-bit. For a tensor ``x`` and
``b`` bits, with ``lo = -2**(b-1)`` and ``hi = 2**(b-1) - 1``, the largest scale that keeps ``x`` in range is::

    scale(x, b) = |hi / max(x)|   if |min(x)| <= |max(x)| * |lo / hi|
                  |lo / min(x)|   otherwise

A layer (conv + neurons) gets one common scale ``s = min(scale(W, 8), scale(bias, 8), scale([min_v_mem, thr], 16)
[, scale(v_mem, 16)])`` so that the integer layer computes exactly ``s`` times what the float layer computes, up to
rounding; every value is then ``round(s * x)`` (round half to even, as ``torch.round``). A missing ``min_v_mem``
counts as ``-2**15``. All arithmetic is float32, as in sinabs, so results match ``sinabs.backend.dynapcnn.discretize``
bit for bit.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import TypeVar

import torch
from torch import nn

from spikekit_speck.recognise import number_of, threshold_of

SpikingLayer = TypeVar("SpikingLayer", bound=nn.Module)

__all__ = [
    "WEIGHT_PRECISION_BITS",
    "STATE_PRECISION_BITS",
    "determine_discretization_scale",
    "discretize_tensor",
    "discretize_scalar",
    "DiscreteLayerParams",
    "discretize_params",
    "discretize_conv_spike",
    "discretize_conv_spike_",
]

WEIGHT_PRECISION_BITS = 8
STATE_PRECISION_BITS = 16


def determine_discretization_scale(obj: torch.Tensor, bit_precision: int) -> torch.Tensor:
    """The largest factor by which ``obj`` can be multiplied and still fit ``bit_precision`` signed bits.

    Args:
        obj: any tensor (float).
        bit_precision: number of bits of the signed integer target.

    Returns:
        A 0-dim tensor (``inf`` when ``obj`` is all zeros).

    Example:
        >>> float(determine_discretization_scale(torch.tensor([-0.5, 0.25]), 8))
        256.0
    """
    lo = -(2 ** (bit_precision - 1))
    hi = 2 ** (bit_precision - 1) - 1
    x_min = torch.min(obj)
    x_max = torch.max(obj)
    if abs(x_min) <= abs(x_max) * abs(lo / hi):
        return abs(hi / x_max)
    return abs(lo / x_min)


def discretize_tensor(obj: torch.Tensor, scaling: float | torch.Tensor, to_int: bool = True) -> torch.Tensor:
    """``round(obj * scaling)``, as ``int32`` when ``to_int`` else in ``obj``'s float dtype."""
    rounded = torch.round(obj * scaling)
    return rounded.int() if to_int else rounded


def discretize_scalar(obj: float, scaling: float | torch.Tensor) -> int:
    """``round(obj * scaling)`` for a Python number (Python's round: half to even)."""
    return round(obj * float(scaling))


@dataclasses.dataclass
class DiscreteLayerParams:
    """A layer's parameters on the chip's integer grid.

    Attributes:
        weight: ``(C_out, C_in, k, k)`` integer-valued float tensor (8-bit range).
        bias: ``(C_out,)`` integer-valued float tensor (8-bit range).
        threshold: integer high threshold (16-bit range).
        min_v_mem: integer low threshold (16-bit range).
        v_mem: integer-valued initial state, or None.
        scale: the common factor applied to every value.
    """

    weight: torch.Tensor
    bias: torch.Tensor
    threshold: int
    min_v_mem: int
    v_mem: torch.Tensor | None
    scale: float


def discretize_params(
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    threshold: float | torch.Tensor,
    min_v_mem: float | torch.Tensor | None,
    v_mem: torch.Tensor | None = None,
) -> DiscreteLayerParams:
    """Scale one layer's weight, bias, thresholds (and state) by one common factor and round them.

    Args:
        weight: conv weight ``(C_out, C_in, k, k)``.
        bias: ``(C_out,)`` or None (zeros).
        threshold: the neuron's spike threshold (scalar).
        min_v_mem: the neuron's lower bound, or None for ``-2**15``.
        v_mem: the neurons' current state, included in the scale when given.

    Example:
        >>> p = discretize_params(torch.tensor([[[[0.5]]]]), None, 1.0, -1.0)
        >>> (p.weight.item(), p.threshold, p.min_v_mem)
        (127.0, 254, -254)
    """
    weight = weight.detach().float()
    bias = torch.zeros(weight.shape[0]) if bias is None else bias.detach().float()
    low = -(2**15) if min_v_mem is None else min_v_mem
    thresholds = torch.stack([torch.as_tensor(low).float().reshape(()), torch.as_tensor(threshold).float().reshape(())])
    scales = [
        determine_discretization_scale(weight, WEIGHT_PRECISION_BITS),
        determine_discretization_scale(bias, WEIGHT_PRECISION_BITS),
        determine_discretization_scale(thresholds, STATE_PRECISION_BITS),
    ]
    if v_mem is not None and v_mem.numel() > 0:
        scales.append(determine_discretization_scale(v_mem.detach().float(), STATE_PRECISION_BITS))
    scale = min(scales)
    new_low, new_thr = discretize_tensor(thresholds, scale, to_int=False)
    return DiscreteLayerParams(
        weight=discretize_tensor(weight, scale, to_int=False),
        bias=discretize_tensor(bias, scale, to_int=False),
        threshold=int(new_thr),
        min_v_mem=int(new_low),
        v_mem=None if v_mem is None or v_mem.numel() == 0 else discretize_tensor(v_mem.detach().float(), scale, False),
        scale=float(scale),
    )


def discretize_conv_spike_(
    conv_lyr: nn.Conv2d, spike_lyr: SpikingLayer, to_int: bool = True
) -> tuple[nn.Conv2d, SpikingLayer]:
    """Discretise a Conv2d and its IAF layer in place (sinabs's ``discretize_conv_spike_``).

    The conv's weight and bias, the neuron layer's ``spike_threshold``, ``min_v_mem`` and (if initialised)
    ``v_mem`` are replaced by their rounded, scaled values; threshold and ``min_v_mem`` become frozen Parameters.
    A conv without bias keeps having none.
    """
    if not isinstance(conv_lyr, nn.Conv2d):
        raise TypeError(f"discretize_conv_spike_ expects an nn.Conv2d, got {type(conv_lyr).__name__}")
    v_mem = getattr(spike_lyr, "v_mem", None)
    initialised = v_mem is not None and v_mem.numel() > 0
    params = discretize_params(
        conv_lyr.weight,
        conv_lyr.bias,
        threshold_of(spike_lyr),
        number_of(spike_lyr, "min_v_mem"),
        v_mem if initialised else None,
    )
    conv_lyr.weight.data = params.weight
    if conv_lyr.bias is not None:
        conv_lyr.bias.data = params.bias
    if initialised and params.v_mem is not None:
        spike_lyr.v_mem.data = params.v_mem
    spike_lyr.min_v_mem = nn.Parameter(torch.tensor(float(params.min_v_mem)), requires_grad=False)
    spike_lyr.spike_threshold = nn.Parameter(torch.tensor(float(params.threshold)), requires_grad=False)
    return conv_lyr, spike_lyr


def discretize_conv_spike(
    conv_lyr: nn.Conv2d, spike_lyr: SpikingLayer, to_int: bool = True
) -> tuple[nn.Conv2d, SpikingLayer]:
    """A discretised copy of a Conv2d and its IAF layer (the inputs are left unchanged)."""
    return discretize_conv_spike_(copy.deepcopy(conv_lyr), copy.deepcopy(spike_lyr), to_int=to_int)
