"""``Merge`` and ``ChannelShift``: joining two spike streams."""

from __future__ import annotations

import torch
from torch import nn

from spikekit_neurons._checks import check_count

__all__ = ["Merge", "ChannelShift"]


class Merge(nn.Module):
    """Add two tensors; if their shapes differ, zero-pad each at the end of every dimension to the larger size first.

    Example:
        >>> Merge()(torch.ones(1, 2, 2), torch.ones(1, 1, 3)).shape
        torch.Size([1, 2, 3])
    """

    def forward(self, data1: torch.Tensor, data2: torch.Tensor) -> torch.Tensor:
        for arg, data in (("data1", data1), ("data2", data2)):
            if not isinstance(data, torch.Tensor):
                raise TypeError(f"Merge expects two torch.Tensors, got {type(data).__name__} as {arg}")
        if data1.shape == data2.shape:
            return data1 + data2
        if data1.ndim != data2.ndim:
            raise ValueError(
                f"Merge expects two inputs with the same number of dimensions, got shapes {tuple(data1.shape)} "
                f"and {tuple(data2.shape)}"
            )
        pad1: list[int] = []
        pad2: list[int] = []
        for s1, s2 in zip(reversed(data1.shape), reversed(data2.shape)):  # F.pad lists the last dimension first
            size = max(s1, s2)
            pad1 += [0, size - s1]
            pad2 += [0, size - s2]
        return nn.functional.pad(data1, pad1) + nn.functional.pad(data2, pad2)


class ChannelShift(nn.Module):
    """Prepend ``channel_shift`` zero channels along ``channel_axis`` (so channels move up by that many).

    Args:
        channel_shift: number of zero channels to insert in front.
        channel_axis: the channel dimension, counted from the end (a negative number; -3 for ``(N, C, H, W)``).

    Example:
        >>> ChannelShift(2)(torch.ones(1, 3, 4, 4)).shape
        torch.Size([1, 5, 4, 4])
    """

    def __init__(self, channel_shift: int = 0, channel_axis: int = -3) -> None:
        super().__init__()
        channel_shift = check_count(
            "ChannelShift", "channel_shift", channel_shift, what="zero channels to prepend", minimum=0
        )
        if isinstance(channel_axis, bool) or not isinstance(channel_axis, int) or channel_axis >= 0:
            raise ValueError(
                f"ChannelShift expects a negative int channel_axis (counted from the end), got {channel_axis!r}"
            )
        self.channel_shift = channel_shift
        self.channel_axis = channel_axis
        self.padding = [0, 0] * (-channel_axis)
        self.padding[-2] = channel_shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < len(self.padding) // 2:
            raise ValueError(
                f"ChannelShift expects input with a channel axis at {self.channel_axis} (at least "
                f"{len(self.padding) // 2} dims, e.g. (N, C, H, W)), got shape {tuple(x.shape)}"
            )
        return nn.functional.pad(x, self.padding, mode="constant", value=0)
