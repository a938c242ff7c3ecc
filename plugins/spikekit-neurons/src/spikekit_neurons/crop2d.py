"""``Cropping2dLayer``: cut rows and columns off the edges of ``(N, C, H, W)`` input."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["Cropping2dLayer"]


class Cropping2dLayer(nn.Module):
    """Crop ``(N, C, H, W)`` to ``(N, C, H - top - bottom, W - left - right)``.

    Args:
        cropping: ``((top, bottom), (left, right))``, non-negative ints. An input whose height or width the crop
            would use up entirely is refused (``ValueError``), instead of giving an empty or wrapped-around tensor.

    Example:
        >>> Cropping2dLayer(((1, 0), (0, 2)))(torch.zeros(3, 2, 5, 5)).shape
        torch.Size([3, 2, 4, 3])
    """

    def __init__(self, cropping: Sequence[Sequence[int]] = ((0, 0), (0, 0))):
        super().__init__()
        (self.top_crop, self.bottom_crop), (self.left_crop, self.right_crop) = _check_cropping(cropping)

    def forward(self, binary_input: torch.Tensor) -> torch.Tensor:
        """Crop; sets ``channels_in``, ``out_shape``, ``spikes_number`` and ``tw``."""
        if binary_input.ndim != 4:
            raise ValueError(
                f"Cropping2dLayer expects input of shape (N, C, H, W), got shape {tuple(binary_input.shape)}"
            )
        _, self.channels_in, height, width = binary_input.shape
        self._check_fits(height, width, tuple(binary_input.shape))
        out = binary_input[:, :, self.top_crop : height - self.bottom_crop, self.left_crop : width - self.right_crop]
        self.out_shape = out.shape[1:]
        self.spikes_number = out.abs().sum()
        self.tw = len(out)
        return out

    def get_output_shape(self, input_shape: Sequence[int]) -> tuple[int, int, int]:
        """``(C, H, W) -> (C, H', W')``."""
        channels, height, width = input_shape
        self._check_fits(height, width, tuple(input_shape))
        return channels, height - self.top_crop - self.bottom_crop, width - self.left_crop - self.right_crop

    def _check_fits(self, height: int, width: int, shape: tuple[int, ...]) -> None:
        if self.top_crop + self.bottom_crop >= height or self.left_crop + self.right_crop >= width:
            raise ValueError(
                f"Cropping2dLayer: cropping (({self.top_crop}, {self.bottom_crop}), ({self.left_crop}, "
                f"{self.right_crop})) does not fit an input of shape {shape}: it needs height > "
                f"{self.top_crop + self.bottom_crop} and width > {self.left_crop + self.right_crop}"
            )


def _check_cropping(cropping: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    """``((top, bottom), (left, right))`` of non-negative ints, or a ValueError naming the layer."""
    try:
        (top, bottom), (left, right) = cropping
        values = [operator.index(v) for v in (top, bottom, left, right)]
    except (TypeError, ValueError):
        values = []
    if len(values) != 4 or any(v < 0 or isinstance(v, bool) for v in values):
        raise ValueError(
            f"Cropping2dLayer: cropping must be ((top, bottom), (left, right)) of non-negative ints, got {cropping!r}"
        )
    return (values[0], values[1]), (values[2], values[3])
