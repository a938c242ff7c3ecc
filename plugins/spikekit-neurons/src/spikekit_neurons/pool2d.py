"""Pooling layers for spike trains: ``SpikingMaxPooling2dLayer`` and ``SumPool2d``."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["SpikingMaxPooling2dLayer", "SumPool2d"]


def conv_output_size(image_length: int, kernel_length: int, stride: int) -> int:
    """The length of an unpadded pooling (or convolution) output along one dimension: ``int((L - k) / s + 1)``
    (sinabs's ``sinabs.layers.pool2d.conv_output_size``); ValueError if the window is longer than the input."""
    if image_length < kernel_length:
        raise ValueError(
            f"SpikingMaxPooling2dLayer: a window of {kernel_length} does not fit into {image_length} pixels"
        )
    return int((image_length - kernel_length) / stride + 1)


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
        _window("SpikingMaxPooling2dLayer", "pool_size", pool_size)
        if strides is not None:
            _window("SpikingMaxPooling2dLayer", "strides", strides)
        self.padding = padding
        self.pool_size = pool_size
        self.strides = pool_size if strides is None else strides
        # torch takes any int sequence here (F.pad: any even length; pooling: lists too); its stubs name only tuples
        self.pad = None if tuple(padding) == (0, 0, 0, 0) else nn.ZeroPad2d(tuple(padding))  # type: ignore[arg-type]
        self.pool = nn.MaxPool2d(kernel_size=pool_size, stride=self.strides)  # type: ignore[arg-type]
        self.spikes_number: torch.Tensor | None = None

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x if self.pad is None else self.pad(x))

    def forward(self, binary_input: torch.Tensor) -> torch.Tensor:
        """``(T, C, H, W) -> (T, C, H', W')``; sets ``spikes_number`` and ``tw``."""
        if binary_input.ndim != 4:
            raise ValueError(
                f"SpikingMaxPooling2dLayer expects input of shape (T, C, H, W), got shape {tuple(binary_input.shape)}"
            )
        pad = tuple(self.padding)
        _check_fits(
            "SpikingMaxPooling2dLayer", binary_input.shape, _pair(self.pool_size), (pad[2] + pad[3], pad[0] + pad[1])
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
            conv_output_size(height + pad[2] + pad[3], kernel[0], stride[0]),
            conv_output_size(width + pad[0] + pad[1], kernel[1], stride[1]),
        )


def _window(layer: str, name: str, value: int | Sequence[int]) -> tuple[int, int]:
    """A window size or stride as (h, w) of positive whole numbers, or a ValueError naming the layer."""
    try:
        pair = tuple(operator.index(v) for v in ((value, value) if not isinstance(value, Sequence) else value))
    except TypeError:
        pair = ()
    if len(pair) != 2 or isinstance(value, bool) or not all(v > 0 for v in pair):
        raise ValueError(f"{layer}: {name} must be a positive whole number or two of them, got {value!r}")
    return pair[0], pair[1]


def _check_fits(layer: str, shape: torch.Size, kernel: tuple[int, int], pad_hw: tuple[int, int] = (0, 0)) -> None:
    """Refuse an input smaller than one window (torch would fail later naming no layer)."""
    height, width = shape[-2] + pad_hw[0], shape[-1] + pad_hw[1]
    if height < kernel[0] or width < kernel[1]:
        raise ValueError(
            f"{layer}: the pooling window {kernel} does not fit the input: expected a height and width of at least "
            f"{kernel[0]} x {kernel[1]}, got {shape[-2]} x {shape[-1]} (input shape {tuple(shape)})"
        )


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _spread(grad: torch.Tensor, shape: tuple[int, ...], kernel: tuple[int, int]) -> torch.Tensor:
    """The gradient of disjoint window sums: each window's gradient copied to its cells in one pass (no zero
    fill and scatter as in ``avg_pool2d_backward``); rows and columns no window covers get zero."""
    kh, kw = kernel
    h, w = shape[-2], shape[-1]
    if grad.dim() == 4 and not grad.is_contiguous() and grad.is_contiguous(memory_format=torch.channels_last):
        # channels_last (N, C, H, W) is stored as (N, H, W, C): spread in that order, hand back the same layout
        n, ho, wo, c = grad.permute(0, 2, 3, 1).shape
        g = grad.permute(0, 2, 3, 1).reshape(n, ho, 1, wo, 1, c).expand(n, ho, kh, wo, kw, c)
        g = g.reshape(n, ho * kh, wo * kw, c)
        if (h, w) != (ho * kh, wo * kw):
            g = F.pad(g, (0, 0, 0, w - wo * kw, 0, h - ho * kh))
        return g.permute(0, 3, 1, 2)
    *lead, ho, wo = grad.shape
    g = grad.reshape(*lead, ho, 1, wo, 1).expand(*lead, ho, kh, wo, kw).reshape(*lead, ho * kh, wo * kw)
    if (h, w) != (ho * kh, wo * kw):
        g = F.pad(g, (0, w - wo * kw, 0, h - ho * kh))
    return g


class _WindowSum(torch.autograd.Function):
    """The value and gradient of ``LPPool2d`` with ``p = 1`` in one pooling pass each way.

    ``LPPool2d(1)`` computes ``sign(a) * relu(|a|) * kh*kw`` with ``a = avg_pool2d(x**1)``: the value is the window
    sum (without ``ceil_mode``; with it, windows cut by the edge are averaged over the cells they cover and then
    scaled by the full window size, as sinabs does) and the gradient is that of the sum except where a window sums
    to exactly zero (``relu`` at 0), where it is zero. Here the sum is ``avg_pool2d`` with ``divisor_override=1``
    (exact for integer spike counts) and the backward masks the output gradient where the sum is zero; no
    ``pow`` / ``abs`` / ``sign`` / ``relu`` passes and nothing of input size is kept for the backward.
    """

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], ceil_mode: bool
    ) -> torch.Tensor:
        if ceil_mode:  # sinabs's value for windows cut by the edge: their average times the full window size
            out = F.avg_pool2d(x, kernel, stride, 0, True, True, None) * (kernel[0] * kernel[1])
        else:
            out = F.avg_pool2d(x, kernel, stride, 0, False, True, 1)
        ctx.save_for_backward(out)
        ctx.cfg = (tuple(x.shape), x.dtype, x.device, kernel, stride, ceil_mode)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        (out,) = ctx.saved_tensors
        shape, dtype, device, kernel, stride, ceil_mode = ctx.cfg
        grad = torch.where(out != 0, grad, 0)
        if not ceil_mode and kernel == stride:  # disjoint windows: each cell gets its window's gradient
            return _spread(grad, shape, kernel), None, None, None
        like = torch.empty((), dtype=dtype, device=device).expand(shape)  # only the input's size is read
        if ceil_mode:
            grad = grad * (kernel[0] * kernel[1])
            gx = torch.ops.aten.avg_pool2d_backward(grad, like, kernel, stride, [0, 0], True, True, None)
        else:
            gx = torch.ops.aten.avg_pool2d_backward(grad, like, kernel, stride, [0, 0], False, True, 1)
        return gx, None, None, None


class SumPool2d(nn.LPPool2d):
    """Sum over each window: the value and gradient of ``LPPool2d`` with ``p = 1`` (as sinabs defines it), computed
    with one pooling pass forward and one backward.

    The value is the window sum, exact for integer spike counts and for negative values too (with ``ceil_mode``,
    windows cut by the edge give their average times the full window size, as in sinabs). The gradient is 1 per
    cell, except in windows whose sum is exactly zero, where ``LPPool2d`` (and so sinabs) gives 0. A
    ``channels_last`` input gives a ``channels_last`` output and input gradient (no layout conversion either way).

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
        _window("SumPool2d", "kernel_size", kernel_size)
        if stride is not None:
            _window("SumPool2d", "stride", stride)
        # torch's pooling takes lists too (kept as given, as in sinabs); its stubs name only tuples
        super().__init__(1, kernel_size, stride, ceil_mode)  # type: ignore[arg-type]

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.ndim not in (3, 4):
            raise ValueError(
                f"SumPool2d expects input of shape (N, C, H, W) or (C, H, W), got shape {tuple(input.shape)}"
            )
        if float(self.norm_type) != 1.0:  # changed after construction: behave as the LPPool2d it is
            return super().forward(input)
        kernel = _pair(self.kernel_size)
        if not self.ceil_mode:  # with ceil_mode a window cut by the edge still gives an output, as in sinabs
            _check_fits("SumPool2d", input.shape, kernel)
        stride = kernel if self.stride is None else _pair(self.stride)
        return _WindowSum.apply(input, kernel, stride, bool(self.ceil_mode))
