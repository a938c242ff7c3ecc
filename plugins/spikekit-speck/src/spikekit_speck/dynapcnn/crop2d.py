"""``Crop2d``: keep a rectangle of each frame (sinabs's ``sinabs.backend.dynapcnn.crop2d``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["Crop2d"]


class Crop2d(nn.Module):
    """Keep rows ``top:bottom`` and columns ``left:right`` of ``(N, C, H, W)`` input.

    Args:
        cropping: ``((top, bottom), (left, right))``, bottom and right exclusive.

    Example:
        >>> Crop2d(((1, 3), (0, 2)))(torch.ones(1, 1, 4, 4)).shape
        torch.Size([1, 1, 2, 2])
    """

    def __init__(self, cropping: Sequence[Sequence[int]] = ((0, 0), (0, 0))) -> None:
        super().__init__()
        (self.top_crop, self.bottom_crop), (self.left_crop, self.right_crop) = cropping

    def forward(self, binary_input: torch.Tensor) -> torch.Tensor:
        out = binary_input[:, :, self.top_crop : self.bottom_crop, self.left_crop : self.right_crop]
        # Kept as sinabs keeps them (read by some sinabs code after a forward pass).
        self.out_shape = out.shape[1:]
        self.spikes_number = out.abs().sum()
        self.tw = len(out)
        return out

    def get_output_shape(self, input_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """``(channels, height, width)`` after cropping ``input_shape``."""
        return (input_shape[0], self.bottom_crop - self.top_crop, self.right_crop - self.left_crop)

    def __repr__(self) -> str:
        return f"Crop2d(({self.top_crop}, {self.bottom_crop}), ({self.left_crop}, {self.right_crop}))"
