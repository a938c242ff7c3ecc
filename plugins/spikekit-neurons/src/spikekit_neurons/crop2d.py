"""``Cropping2dLayer``: cut rows and columns off the edges of ``(N, C, H, W)`` input."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["Cropping2dLayer"]


class Cropping2dLayer(nn.Module):
    """Crop ``(N, C, H, W)`` to ``(N, C, H - top - bottom, W - left - right)``.

    Args:
        cropping: ``((top, bottom), (left, right))``.

    Example:
        >>> Cropping2dLayer(((1, 0), (0, 2)))(torch.zeros(3, 2, 5, 5)).shape
        torch.Size([3, 2, 4, 3])
    """

    def __init__(self, cropping: Sequence[Sequence[int]] = ((0, 0), (0, 0))):
        super().__init__()
        self.top_crop, self.bottom_crop = cropping[0]
        self.left_crop, self.right_crop = cropping[1]

    def forward(self, binary_input: torch.Tensor) -> torch.Tensor:
        """Crop; sets ``channels_in``, ``out_shape``, ``spikes_number`` and ``tw``."""
        if binary_input.ndim != 4:
            raise ValueError(
                f"Cropping2dLayer expects input of shape (N, C, H, W), got shape {tuple(binary_input.shape)}"
            )
        _, self.channels_in, height, width = binary_input.shape
        out = binary_input[:, :, self.top_crop : height - self.bottom_crop, self.left_crop : width - self.right_crop]
        self.out_shape = out.shape[1:]
        self.spikes_number = out.abs().sum()
        self.tw = len(out)
        return out

    def get_output_shape(self, input_shape: Sequence[int]) -> tuple[int, int, int]:
        """``(C, H, W) -> (C, H', W')``."""
        channels, height, width = input_shape
        return channels, height - self.top_crop - self.bottom_crop, width - self.left_crop - self.right_crop
