"""Layers that move between the ``(B, T, ...)`` layout of neuron layers and the ``(B*T, ...)`` layout of
ordinary torch layers."""

from __future__ import annotations

import torch
from torch import nn

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
        batch_size: ``B``; the first input dimension must be a multiple of it.
    """

    def __init__(self, batch_size: int):
        super().__init__()
        self.batch_size = batch_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 1 or x.shape[0] % self.batch_size:
            raise ValueError(
                f"UnflattenTime expects a first dimension that is a multiple of batch_size={self.batch_size}, "
                f"got shape {tuple(x.shape)}"
            )
        return x.unflatten(0, (self.batch_size, x.shape[0] // self.batch_size))


class Repeat(nn.Module):
    """Apply a time-agnostic ``module`` to every time step of a ``(B, T, ...)`` input.

    Example:
        >>> conv = Repeat(nn.Conv2d(2, 4, 3))
        >>> conv(torch.zeros(8, 10, 2, 16, 16)).shape
        torch.Size([8, 10, 4, 14, 14])
    """

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 2:
            raise ValueError(f"Repeat expects input of shape (batch, time, ...), got shape {tuple(x.shape)}")
        batch_time = x.shape[:2]
        return self.module(x.flatten(0, 1)).unflatten(0, batch_time)  # (B*T, ...) -> (B, T, ...)

    def __repr__(self) -> str:
        return "Repeated " + repr(self.module)
