"""Layers that move between the ``(B, T, ...)`` layout of neuron layers and the ``(B*T, ...)`` layout of
ordinary torch layers."""

from __future__ import annotations

import operator

import torch
from torch import nn

from spikekit.state import ShapeMismatchError, SqueezeMixin  # noqa: F401  (sinabs.layers.reshape offers it)

__all__ = ["FlattenTime", "UnflattenTime", "Repeat"]


class FlattenTime(nn.Flatten):
    """``(B, T, ...) -> (B*T, ...)``: merge the batch and time dimensions."""

    def __init__(self) -> None:
        super().__init__(start_dim=0, end_dim=1)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.ndim < 2:
            raise ValueError(f"FlattenTime expects input of shape (batch, time, ...), got shape {tuple(input.shape)}")
        return super().forward(input)


class UnflattenTime(nn.Module):
    """``(B*T, ...) -> (B, T, ...)``: split the first dimension, ``T`` inferred from ``batch_size``.

    Args:
        batch_size: ``B``, a positive int; the first input dimension must be a multiple of it (else
            :class:`~spikekit.state.ShapeMismatchError`, a ``ValueError`` and a ``RuntimeError`` as in sinabs).
    """

    def __init__(self, batch_size: int):
        super().__init__()
        try:
            size = operator.index(batch_size)
        except TypeError:
            size = 0
        if isinstance(batch_size, bool) or size < 1:
            raise ValueError(f"UnflattenTime: batch_size must be a positive int, got {batch_size!r}")
        self.batch_size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 1 or x.shape[0] % self.batch_size:
            raise ShapeMismatchError(
                f"UnflattenTime expects a first dimension that is a multiple of batch_size={self.batch_size}, "
                f"got shape {tuple(x.shape)}"
            )
        unflat: torch.Tensor = x.unflatten(0, (self.batch_size, x.shape[0] // self.batch_size))
        return unflat


class Repeat(nn.Module):
    """Apply a time-agnostic ``module`` to every time step of a ``(B, T, ...)`` input.

    Example:
        >>> conv = Repeat(nn.Conv2d(2, 4, 3))
        >>> conv(torch.zeros(8, 10, 2, 16, 16)).shape
        torch.Size([8, 10, 4, 14, 14])
    """

    def __init__(self, module: nn.Module):
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"Repeat expects a torch.nn.Module to apply at every time step, got {type(module).__name__}"
            )
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 2:
            raise ValueError(f"Repeat expects input of shape (batch, time, ...), got shape {tuple(x.shape)}")
        batch_time = x.shape[:2]
        out: torch.Tensor = self.module(x.flatten(0, 1))
        folded: torch.Tensor = out.unflatten(0, batch_time)  # (B*T, ...) -> (B, T, ...)
        return folded

    def __repr__(self) -> str:
        return "Repeated " + repr(self.module)
