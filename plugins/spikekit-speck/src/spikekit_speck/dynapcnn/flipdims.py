"""``FlipDims``: mirror the y / x axis, then optionally swap them (sinabs's ``sinabs.backend.dynapcnn.flipdims``)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FlipDims"]


class FlipDims(nn.Module):
    """Flip ``(N, C, H, W)`` input along y (``flip_y``) and x (``flip_x``), then transpose y and x (``swap_xy``)."""

    def __init__(self, flip_x: bool = False, flip_y: bool = False, swap_xy: bool = False) -> None:
        super().__init__()
        self.flip_x, self.flip_y, self.swap_xy = flip_x, flip_y, swap_xy

    def forward(self, data: torch.Tensor) -> torch.Tensor:
        if self.flip_y:
            data = data.flip(2)
        if self.flip_x:
            data = data.flip(3)
        if self.swap_xy:
            data = data.transpose(2, 3)
        return data

    def get_output_shape(self, input_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """The shape as sinabs reports it: unchanged (sinabs does not swap the sizes for ``swap_xy``)."""
        return input_shape
