"""Spike functions: membrane potential and threshold in, spikes out, a surrogate gradient on the way back.

Each follows :class:`spikekit.protocols.SpikeFunction`: ``spike_fn.apply(v_mem, spike_threshold, surrogate)``.
The backward pass of all three is ``grad_output * surrogate(v_mem, spike_threshold)`` to ``v_mem`` and nothing to
the threshold.

``MultiSpike`` and ``SingleSpike`` are autograd functions and are passed around as **classes**
(``LIF(..., spike_fn=MultiSpike)``); ``MaxSpike`` carries a setting and is passed as an **instance**
(``spike_fn=MaxSpike(3)``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from spikekit.protocols import ActivationSpec, SurrogateGradient, SurrogateSpikeFunction

__all__ = ["MultiSpike", "SingleSpike", "MaxSpike", "MaxSpikeInner", "BackwardClass"]


def _count_spikes(v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
    # (v > 0) · trunc(v / θ). For v <= 0 the product is ±0 (negative zero where v/θ is negative), exactly as the
    # reference; trunc is the float truncation of the quotient, so v=0.9, θ=0.3 gives 2.
    return ((v_mem > 0) * torch.div(v_mem, spike_threshold, rounding_mode="trunc")).to(v_mem.dtype)


class MultiSpike(SurrogateSpikeFunction):
    """As many spikes per step as the threshold fits into the membrane potential.

    .. math:: S = \\mathbb{1}[v > 0] \\cdot \\operatorname{trunc}(v / \\theta)

    Pass the class itself as ``spike_fn``. Its :attr:`spec` has kind ``"multi_spike"``.

    Example:
        >>> v = torch.tensor([-0.5, 0.5, 1.0, 2.7])
        >>> MultiSpike.apply(v, torch.tensor(1.0), None)
        tensor([-0., 0., 1., 2.])
    """

    spec = ActivationSpec("spike", "multi_spike")

    @staticmethod
    def spike_rule(v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
        return _count_spikes(v_mem, spike_threshold)


class SingleSpike(SurrogateSpikeFunction):
    """At most one spike per step: :math:`S = \\mathbb{1}[v - \\theta \\ge 0]` (a neuron exactly at threshold spikes).

    Pass the class itself as ``spike_fn``. Its :attr:`spec` has kind ``"single_spike"``.

    Example:
        >>> SingleSpike.apply(torch.tensor([0.5, 1.0, 2.7]), torch.tensor(1.0), None)
        tensor([0., 1., 1.])
    """

    spec = ActivationSpec("spike", "single_spike")

    @staticmethod
    def spike_rule(v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
        return (v_mem - spike_threshold >= 0).to(v_mem.dtype)


class BackwardClass:
    """The backward pass of sinabs's spike functions, for a spike function of one's own written sinabs's way
    (``class MySpike(BackwardClass, torch.autograd.Function)``, whose ``forward`` saves ``v_mem`` and sets
    ``ctx.spike_threshold`` and ``ctx.surrogate_grad_fn``): ``grad_output * surrogate_grad_fn(v_mem, threshold)``
    to ``v_mem``, nothing to the other three inputs."""

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        (v_mem,) = ctx.saved_tensors
        return grad_output * ctx.surrogate_grad_fn(v_mem, ctx.spike_threshold), None, None, None


class MaxSpikeInner(torch.autograd.Function):
    """The autograd function behind :class:`MaxSpike`: ``min(MultiSpike(v, θ), max_num_spikes_per_bin)``."""

    required_states = ["v_mem", "max_num_spikes_per_bin"]

    @staticmethod
    def forward(
        ctx: Any,
        v_mem: torch.Tensor,
        max_num_spikes_per_bin: int | None,
        spike_threshold: torch.Tensor,
        surrogate_grad_fn: SurrogateGradient,
    ) -> torch.Tensor:
        ctx.save_for_backward(v_mem.clone(), torch.as_tensor(spike_threshold))
        ctx.surrogate_grad_fn = surrogate_grad_fn
        spikes = _count_spikes(v_mem, spike_threshold)
        if max_num_spikes_per_bin is not None:
            spikes = torch.clamp(spikes, max=max_num_spikes_per_bin)
        return spikes

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        v_mem, spike_threshold = ctx.saved_tensors
        if ctx.surrogate_grad_fn is None:
            raise RuntimeError("MaxSpike was called without a surrogate gradient (surrogate_grad_fn=None)")
        return grad_output * ctx.surrogate_grad_fn(v_mem, spike_threshold), None, None, None


@dataclasses.dataclass
class MaxSpike:
    """Like :class:`MultiSpike`, but at most ``max_num_spikes_per_bin`` spikes per neuron and step.

    .. math:: S = \\min(\\mathbb{1}[v > 0] \\cdot \\operatorname{trunc}(v / \\theta),\\ m)

    Args:
        max_num_spikes_per_bin: the cap ``m``; None means no cap (then it equals MultiSpike).

    Example:
        >>> MaxSpike(2).apply(torch.tensor([0.5, 1.5, 3.5]), torch.tensor(1.0), None)
        tensor([0., 1., 2.])
    """

    max_num_spikes_per_bin: int | None = None

    @property
    def spec(self) -> ActivationSpec:
        """Kind ``"max_spike"`` with parameter ``max_num_spikes_per_bin``."""
        return ActivationSpec("spike", "max_spike", {"max_num_spikes_per_bin": self.max_num_spikes_per_bin})

    @property
    def required_states(self) -> list[str]:
        return ["v_mem"]

    def apply(
        self, v_mem: torch.Tensor, spike_threshold: torch.Tensor, surrogate_grad_fn: SurrogateGradient
    ) -> torch.Tensor:
        return MaxSpikeInner.apply(v_mem, self.max_num_spikes_per_bin, spike_threshold, surrogate_grad_fn)
