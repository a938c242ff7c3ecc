"""Quantisation with straight-through gradients: ``Quantize`` (floor) and ``StochasticRounding``."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["Quantize", "StochasticRounding"]


class Quantize(torch.autograd.Function):
    """:math:`y = \\lfloor x \\rfloor` forward, identity gradient backward (straight-through estimator).

    Example:
        >>> Quantize.apply(torch.tensor([-0.5, 1.7]))
        tensor([-1.,  1.])
    """

    @staticmethod
    def forward(ctx: Any, inp: torch.Tensor) -> torch.Tensor:
        return inp.floor()

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> torch.Tensor:
        return grad_output.clone()


class StochasticRounding(torch.autograd.Function):
    """Round up with probability equal to the fractional part, identity gradient backward.

    .. math:: y = \\lfloor x \\rfloor + \\mathbb{1}[u < x - \\lfloor x \\rfloor],\\quad u \\sim U(0, 1)

    so :math:`E[y] = x`. Draws ``torch.rand_like(x)`` from the global generator.

    Example:
        >>> torch.manual_seed(0); StochasticRounding.apply(torch.full((4,), 0.5))  # doctest: +SKIP
    """

    @staticmethod
    def forward(ctx: Any, inp: torch.Tensor) -> torch.Tensor:
        floor = inp.floor()
        return floor + (torch.rand_like(inp) < inp - floor).to(inp.dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> torch.Tensor:
        return grad_output.clone()
