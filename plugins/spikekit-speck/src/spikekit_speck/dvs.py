"""The chip's DVS input stage: ``DVSLayer`` and its parts ``Crop2d`` and ``FlipDims``.

Order of processing, on ``(N, 2, H, W)`` event counts (``(N, 1, H, W)`` with merged polarities)::

    merge polarities (x[:, 0] + x[:, 1]) -> sum pooling (pool_layer) -> crop (crop_layer) -> flips (flip_layer)

Sum pooling drops the rows / columns that do not fill a window; flips reverse y then x, then ``swap_xy`` transposes.
sinabs's module paths (``dynapcnn.dvs_layer``, ``dynapcnn.crop2d``, ``dynapcnn.flipdims``) name these classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["DVSLayer", "Crop2d", "FlipDims", "expand_to_pair"]


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


def expand_to_pair(value: int | Sequence[int]) -> tuple[int, int]:
    """``k`` -> ``(k, k)``; a pair stays a pair."""
    if isinstance(value, int):
        return (value, value)
    items = tuple(int(v) for v in value)
    if len(items) != 2:
        raise ValueError(f"expected an int or a pair, got {value!r}")
    return items


def _sum_pool(pool: tuple[int, int]) -> nn.LPPool2d:  # SumPool2d is an LPPool2d of power 1
    from spikekit.layers import SumPool2d

    return SumPool2d(pool)


class DVSLayer(nn.Module):
    """The DVS pixel array on chip and / or its pre-processing (merge polarities -> pool -> crop -> flip).

    Args:
        input_shape: sensor size ``(height, width)``.
        pool: sum-pooling kernel ``(height, width)`` (an int for both).
        crop: region kept after pooling, ``((top, bottom), (left, right))``; default the whole pooled frame.
        merge_polarities: sum the two polarity channels into one (the input then has 1 channel).
        flip_x, flip_y: mirror the x / y axis; swap_xy: then swap the axes.
        disable_pixel_array: the sensor's own events are not passed on (the layer only pre-processes input).

    Attributes:
        input_shape: ``(channels, height, width)``; pool_layer, crop_layer, flip_layer: the three stages.

    Example:
        >>> dvs = DVSLayer((128, 128), pool=(2, 2), merge_polarities=True)
        >>> dvs(torch.ones(1, 1, 128, 128)).shape
        torch.Size([1, 1, 64, 64])
    """

    def __init__(
        self,
        input_shape: tuple[int, int],
        pool: tuple[int, int] = (1, 1),
        crop: tuple[tuple[int, int], tuple[int, int]] | None = None,
        merge_polarities: bool = False,
        flip_x: bool = False,
        flip_y: bool = False,
        swap_xy: bool = False,
        disable_pixel_array: bool = True,
    ) -> None:
        super().__init__()
        self.merge_polarities = merge_polarities
        self.disable_pixel_array = disable_pixel_array
        if len(input_shape) != 2:
            raise ValueError(f"Input shape should be 2 dimensional but input_shape={input_shape} was given.")
        self.input_shape: tuple[int, int, int] = (1 if merge_polarities else 2, *input_shape)
        self.pool_layer = _sum_pool(expand_to_pair(pool))
        _, height, width = self.get_output_shape_after_pooling()
        if crop is None:
            crop = ((0, height), (0, width))
        (top, bottom), (left, right) = crop
        if not (0 <= top < bottom <= height and 0 <= left < right <= width):
            raise ValueError(
                f"DVSLayer: crop {((top, bottom), (left, right))} does not fit the pooled frame of "
                f"{height} x {width} (expected 0 <= top < bottom <= {height} and 0 <= left < right <= {width})"
            )
        self.crop_layer = Crop2d(crop)
        self.flip_layer = FlipDims(flip_x, flip_y, swap_xy)

    @classmethod
    def from_layers(
        cls,
        input_shape: tuple[int, int, int],
        pool_layer: nn.LPPool2d | None = None,
        crop_layer: Crop2d | None = None,
        flip_layer: FlipDims | None = None,
        disable_pixel_array: bool = True,
    ) -> DVSLayer:
        """A DVSLayer made of a pooling, a cropping and a flipping layer (each optional).

        Args:
            input_shape: ``(channels, height, width)``, with 1 (merged polarities) or 2 channels.
        """
        if len(input_shape) != 3:
            raise ValueError(f"Input shape should be 3 dimensional but input_shape={input_shape} was given.")
        if not 0 < input_shape[0] <= 2:
            raise ValueError(f"Only 1 and 2 channels are supported. Provided input_shape has {input_shape[0]}.")
        pool = (1, 1) if pool_layer is None else expand_to_pair(pool_layer.kernel_size)
        crop = None
        if crop_layer is not None:
            crop = ((crop_layer.top_crop, crop_layer.bottom_crop), (crop_layer.left_crop, crop_layer.right_crop))
        flips: dict[str, Any] = {}
        if flip_layer is not None:
            flips = {"flip_x": flip_layer.flip_x, "flip_y": flip_layer.flip_y, "swap_xy": flip_layer.swap_xy}
        return cls(
            input_shape=(input_shape[1], input_shape[2]),
            pool=pool,
            crop=crop,
            merge_polarities=input_shape[0] == 1,
            disable_pixel_array=disable_pixel_array,
            **flips,
        )

    # The settings, read from the three stages (also what the chip configuration is built from).
    @property
    def pool(self) -> tuple[int, int]:
        return self.get_pooling()

    @property
    def crop(self) -> tuple[tuple[int, int], tuple[int, int]]:
        return self.get_roi()

    @property
    def flip_x(self) -> bool:
        return bool(self.flip_layer.flip_x)

    @property
    def flip_y(self) -> bool:
        return bool(self.flip_layer.flip_y)

    @property
    def swap_xy(self) -> bool:
        return bool(self.flip_layer.swap_xy)

    @property
    def input_shape_dict(self) -> dict[str, Any]:
        """``{"size": {"x", "y"}, "feature_count"}`` of the input, in the chip configuration's vocabulary."""
        channels, height, width = self.input_shape
        return {"size": {"x": width, "y": height}, "feature_count": 1 if self.merge_polarities else channels}

    def get_output_shape_after_pooling(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` right after pooling."""
        channels, height, width = self.input_shape
        pool_y, pool_x = self.get_pooling()
        return (1 if self.merge_polarities else channels, height // pool_y, width // pool_x)

    def get_output_shape_dict(self) -> dict[str, Any]:
        """``{"size": {"x", "y"}, "feature_count"}`` after pooling and cropping."""
        channels, height, width = self.get_output_shape()
        return {"size": {"x": width, "y": height}, "feature_count": channels}

    def get_output_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` after pooling and cropping (as sinabs: ``swap_xy`` is not applied)."""
        return self.crop_layer.get_output_shape(self.get_output_shape_after_pooling())

    def get_config_dict(self) -> dict[str, Any]:
        """The DVS settings in the chip configuration's vocabulary (cut = last kept index, origin = first)."""
        (top, bottom), (left, right) = self.get_roi()
        pool_y, pool_x = self.get_pooling()
        return {
            "merge": self.merge_polarities,
            "mirror": self.get_flip_dict(),
            "mirror_diagonal": self.get_swap_xy(),
            "cut": {"x": right - 1, "y": bottom - 1},
            "origin": {"x": left, "y": top},
            "pooling": {"y": pool_y, "x": pool_x},
            "pass_sensor_events": not self.disable_pixel_array,
        }

    def forward(self, data: torch.Tensor) -> torch.Tensor:
        """Args: data ``(N, C, H, W)`` event counts. Returns ``(N, C', H', W')``."""
        if data.ndim != 4:
            raise ValueError(f"DVSLayer expects input of shape (N, C, H, W), got shape {tuple(data.shape)}")
        if self.merge_polarities:
            data = data.sum(1, keepdim=True)
        return self.flip_layer(self.crop_layer(self.pool_layer(data)))

    def get_pooling(self) -> tuple[int, int]:
        """``(ky, kx)`` of the sum pooling."""
        return expand_to_pair(self.pool_layer.kernel_size)

    def get_roi(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """``((top, bottom), (left, right))`` kept after pooling."""
        c = self.crop_layer
        return ((c.top_crop, c.bottom_crop), (c.left_crop, c.right_crop))

    def get_flip_dict(self) -> dict[str, bool]:
        return {"x": self.flip_layer.flip_x, "y": self.flip_layer.flip_y}

    def get_swap_xy(self) -> bool:
        return self.flip_layer.swap_xy
