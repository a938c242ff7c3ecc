"""``NeuromorphicReLU`` and ``QuantizeLayer``: ReLU / identity with integer outputs, for training ANNs that will
become SNNs."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from spikekit_neurons._checks import check_finite
from spikekit_neurons.quantize import Quantize, StochasticRounding

__all__ = ["NeuromorphicReLU", "QuantizeLayer"]


def _check_flag(layer: str, arg: str, value: Any) -> bool:
    """A bool (0 and 1 pass, as sinabs reads them by truth); anything else is a TypeError naming the layer."""
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise TypeError(f"{layer}: {arg} must be True or False, got {value!r} ({type(value).__name__})")


class NeuromorphicReLU(nn.Module):
    """ReLU with integer outputs (spike counts) and straight-through gradients.

    .. math:: y = Q(\\max(x, 0))

    where :math:`Q` is ``floor`` (``Quantize``), or with ``stochastic_rounding`` stochastic rounding in training
    and ``round`` in evaluation; with ``quantize=False`` it is a plain ReLU. Sets
    ``activity = y.sum() / len(y) * fanout`` (per-sample output sum times fan-out, for synaptic-operation counts).

    Args:
        quantize: make the output integer.
        fanout: number of synapses each output drives (a finite number >= 0).
        stochastic_rounding: round stochastically (training only).

    Example:
        >>> NeuromorphicReLU()(torch.tensor([[-1.0, 0.5, 2.7]]))
        tensor([[0., 0., 2.]])
    """

    def __init__(self, quantize: bool = True, fanout: int = 1, stochastic_rounding: bool = False):
        super().__init__()
        self.quantize = _check_flag("NeuromorphicReLU", "quantize", quantize)
        self.stochastic_rounding = _check_flag("NeuromorphicReLU", "stochastic_rounding", stochastic_rounding)
        check_finite("NeuromorphicReLU", "fanout", fanout)
        if fanout < 0:
            raise ValueError(f"NeuromorphicReLU: fanout must be non-negative (synapses per output), got {fanout!r}")
        self.fanout = fanout

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        out = torch.nn.functional.relu(inp)
        if self.quantize:
            if not self.stochastic_rounding:
                out = Quantize.apply(out)
            elif self.training:
                out = StochasticRounding.apply(out)
            else:
                out = out.round()
        self.activity = out.sum() / len(out) * self.fanout
        return out


class QuantizeLayer(nn.Module):
    """``floor`` with a straight-through gradient, or the identity when ``quantize=False``.

    Example:
        >>> QuantizeLayer()(torch.tensor([1.7, -0.2]))
        tensor([ 1., -1.])
    """

    def __init__(self, quantize: bool = True):
        super().__init__()
        self.quantize = _check_flag("QuantizeLayer", "quantize", quantize)

    def forward(self, data: torch.Tensor) -> torch.Tensor:
        return Quantize.apply(data) if self.quantize else data
