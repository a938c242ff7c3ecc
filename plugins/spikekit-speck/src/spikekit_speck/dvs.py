"""The on-chip DVS sensor pre-processing as a torch module: polarity merge -> sum pooling -> crop -> flips.

Input ``(N, 2, H, W)`` (or ``(N, 1, H, W)`` with merged polarities) event counts; output ``(N, C, H', W')``::

    merge:  x[:, 0] + x[:, 1]                       (when merge_polarities)
    pool:   sum over non-overlapping p_y x p_x windows (remainder rows/columns dropped)
    crop:   rows top:bottom, columns left:right      (after pooling)
    flip:   reverse y (flip_y), reverse x (flip_x), then transpose y/x (swap_xy)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DVSLayer"]


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    items = tuple(int(v) for v in value)
    if len(items) != 2:
        raise ValueError(f"DVSLayer expects an int or a pair, got {value!r}")
    return items  # type: ignore[return-value]


class DVSLayer(nn.Module):
    """The Speck DVS pixel array's pre-processing (sinabs's ``DVSLayer``).

    Args:
        input_shape: sensor size ``(height, width)``, at most 128 x 128.
        pool: sum-pooling kernel ``(p_y, p_x)`` (or an int).
        crop: region kept after pooling, ``((top, bottom), (left, right))``; default the whole pooled frame.
        merge_polarities: sum the two polarity channels into one.
        flip_x, flip_y, swap_xy: mirror the x / y axis, then swap the axes.
        disable_pixel_array: the sensor's own events are not passed on (use the layer for pre-processing only).

    Example:
        >>> dvs = DVSLayer((128, 128), pool=(2, 2), merge_polarities=True)
        >>> dvs(torch.ones(1, 2, 128, 128)).shape
        torch.Size([1, 1, 64, 64])
    """

    def __init__(
        self,
        input_shape: tuple[int, int],
        pool: int | Sequence[int] = (1, 1),
        crop: Sequence[Sequence[int]] | None = None,
        merge_polarities: bool = False,
        flip_x: bool = False,
        flip_y: bool = False,
        swap_xy: bool = False,
        disable_pixel_array: bool = True,
    ) -> None:
        super().__init__()
        if len(input_shape) != 2:
            raise ValueError(f"DVSLayer expects input_shape (height, width), got {tuple(input_shape)}")
        self.merge_polarities = bool(merge_polarities)
        self.disable_pixel_array = bool(disable_pixel_array)
        self.input_shape = (1 if merge_polarities else 2, int(input_shape[0]), int(input_shape[1]))
        self.pool = _pair(pool)
        pooled_h, pooled_w = self.input_shape[1] // self.pool[0], self.input_shape[2] // self.pool[1]
        if crop is None:
            crop = ((0, pooled_h), (0, pooled_w))
        (top, bottom), (left, right) = crop
        if not (0 <= top < bottom <= pooled_h and 0 <= left < right <= pooled_w):
            raise ValueError(
                f"DVSLayer crop {tuple(map(tuple, crop))} does not fit the pooled frame of {pooled_h} x {pooled_w}"
            )
        self.crop = ((int(top), int(bottom)), (int(left), int(right)))
        self.flip_x, self.flip_y, self.swap_xy = bool(flip_x), bool(flip_y), bool(swap_xy)

    def get_output_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` after pooling, cropping and the optional axis swap."""
        (top, bottom), (left, right) = self.crop
        h, w = bottom - top, right - left
        return (self.input_shape[0], w, h) if self.swap_xy else (self.input_shape[0], h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(N, 2 or 1, H, W)`` event counts. Returns ``(N, C, H', W')``."""
        if x.ndim != 4:
            raise ValueError(f"DVSLayer expects input of shape (N, C, H, W), got shape {tuple(x.shape)}")
        if self.merge_polarities:
            x = x.sum(1, keepdim=True)  # (N, 1, H, W)
        if self.pool != (1, 1):
            x = F.avg_pool2d(x, self.pool, self.pool) * (self.pool[0] * self.pool[1])  # exact window sum
        (top, bottom), (left, right) = self.crop
        x = x[:, :, top:bottom, left:right]
        if self.flip_y:
            x = x.flip(2)
        if self.flip_x:
            x = x.flip(3)
        if self.swap_xy:
            x = x.transpose(2, 3)
        return x

    def get_config_dict(self) -> dict:
        """The DVS settings in the vendor's vocabulary (cut = last kept index, origin = first)."""
        (top, bottom), (left, right) = self.crop
        return {
            "input_shape": list(self.input_shape),
            "merge": self.merge_polarities,
            "mirror": {"x": self.flip_x, "y": self.flip_y},
            "mirror_diagonal": self.swap_xy,
            "cut": {"x": right - 1, "y": bottom - 1},
            "origin": {"x": left, "y": top},
            "pooling": {"y": self.pool[0], "x": self.pool[1]},
            "pass_sensor_events": not self.disable_pixel_array,
        }

    def extra_repr(self) -> str:
        return (
            f"input_shape={self.input_shape[1:]}, pool={self.pool}, crop={self.crop}, "
            f"merge_polarities={self.merge_polarities}, flip_x={self.flip_x}, flip_y={self.flip_y}, "
            f"swap_xy={self.swap_xy}"
        )
