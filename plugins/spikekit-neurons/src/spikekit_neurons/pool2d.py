"""Pooling layers for spike trains: ``SpikingMaxPooling2dLayer`` and ``SumPool2d``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["SpikingMaxPooling2dLayer", "SumPool2d"]


def _pooled_size(length: int, kernel: int, stride: int) -> int:
    if length < kernel:
        raise ValueError(f"SpikingMaxPooling2dLayer: a window of {kernel} does not fit into {length} pixels")
    return int((length - kernel) / stride + 1)


class SpikingMaxPooling2dLayer(nn.Module):
    """Max pooling of spike trains: a window passes the spikes of the neuron that has spiked most so far.

    With :math:`c_t = \\sum_{s \\le t} x_s` the running spike count (dim 0 is time):

    .. math:: y_t = \\mathbb{1}[\\operatorname{maxpool}(c_t \\cdot \\mathbb{1}[x_t > 0]) \\ge \\operatorname{maxpool}(c_t)]
        \\cdot \\operatorname{maxpool}(x_t)

    Args:
        pool_size: window ``(kh, kw)`` (or an int).
        strides: window stride; default ``pool_size``.
        padding: ``(left, right, top, bottom)`` zero padding.

    Shape:
        input ``(T, C, H, W)``; output ``(T, C, H', W')``.

    Example:
        >>> pool = SpikingMaxPooling2dLayer((2, 2))
        >>> pool(torch.ones(5, 1, 4, 4)).shape
        torch.Size([5, 1, 2, 2])
    """

    def __init__(
        self,
        pool_size: int | Sequence[int],
        strides: int | Sequence[int] | None = None,
        padding: Sequence[int] = (0, 0, 0, 0),
    ):
        super().__init__()
        self.padding = padding
        self.pool_size = pool_size
        self.strides = pool_size if strides is None else strides
        self.pad = None if tuple(padding) == (0, 0, 0, 0) else nn.ZeroPad2d(tuple(padding))
        self.pool = nn.MaxPool2d(kernel_size=pool_size, stride=self.strides)
        self.spikes_number: torch.Tensor | None = None

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x if self.pad is None else self.pad(x))

    def forward(self, binary_input: torch.Tensor) -> torch.Tensor:
        """``(T, C, H, W) -> (T, C, H', W')``; sets ``spikes_number`` and ``tw``."""
        if binary_input.ndim != 4:
            raise ValueError(
                f"SpikingMaxPooling2dLayer expects input of shape (T, C, H, W), got shape {tuple(binary_input.shape)}"
            )
        counts = torch.cumsum(binary_input, 0)  # (T, C, H, W)
        window_max = self._pool(counts)
        winner = self._pool(counts * (binary_input > 0).to(counts.dtype))
        out = (winner >= window_max).to(binary_input.dtype) * self._pool(binary_input)
        self.spikes_number = out.abs().sum()
        self.tw = len(out)
        return out.float()

    def get_output_shape(self, input_shape: Sequence[int]) -> tuple[int, int, int]:
        """``(C, H, W) -> (C, H', W')``."""
        channels, height, width = input_shape
        kernel = (self.pool_size, self.pool_size) if isinstance(self.pool_size, int) else self.pool_size
        stride = (self.strides, self.strides) if isinstance(self.strides, int) else self.strides
        pad = tuple(self.padding)
        return (
            channels,
            _pooled_size(height + pad[2] + pad[3], kernel[0], stride[0]),
            _pooled_size(width + pad[0] + pad[1], kernel[1], stride[1]),
        )


class SumPool2d(nn.LPPool2d):
    """Sum over each window (``LPPool2d`` with ``p = 1``; exact for negative values too).

    Args:
        kernel_size: window size.
        stride: window stride (default: the kernel size; ``self.stride`` stays None then, as in sinabs).
        ceil_mode: round the output size up.

    Example:
        >>> SumPool2d(2)(torch.ones(1, 1, 4, 4))
        tensor([[[[4., 4.],
                  [4., 4.]]]])
    """

    def __init__(
        self, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None, ceil_mode: bool = False
    ):
        super().__init__(1, kernel_size, stride, ceil_mode)  # type: ignore[arg-type]

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.ndim not in (3, 4):
            raise ValueError(
                f"SumPool2d expects input of shape (N, C, H, W) or (C, H, W), got shape {tuple(input.shape)}"
            )
        return super().forward(input)
