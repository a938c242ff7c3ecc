"""Shape helpers for convolutional layers (``spikekit.cnnutils``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["conv_output_size", "compute_same_padding_size", "compute_padding", "infer_output_shape"]


def conv_output_size(image_length: int, kernel_length: int, stride: int) -> int:
    """Output length of an unpadded convolution along one dimension: ``int((L - k) / s + 1)``.

    Args:
        image_length: input length ``L``.
        kernel_length: kernel length ``k`` (at most ``L``).
        stride: stride ``s``.

    Example:
        >>> conv_output_size(28, 5, 2)
        12
    """
    if image_length < kernel_length:
        raise ValueError(
            f"conv_output_size: image dimension {image_length} is smaller than kernel dimension {kernel_length}"
        )
    return int((image_length - kernel_length) / stride + 1)


def compute_same_padding_size(kernel_length: int) -> tuple[int, int]:
    """``(start, stop)`` padding that keeps the length at stride 1: ``(k // 2, k // 2 - (k even))``.

    Example:
        >>> compute_same_padding_size(4)
        (2, 1)
    """
    start = kernel_length // 2
    return start, start - 1 if kernel_length % 2 == 0 else start


def compute_padding(
    kernel_shape: Sequence[int], input_shape: Sequence[int], mode: str = "valid"
) -> tuple[int, int, int, int]:
    """Padding ``(left, right, top, bottom)`` for ``mode`` ``"valid"`` (none) or ``"same"`` (stride 1).

    Args:
        kernel_shape: ``(height, width)``.
        input_shape: ``(channels, height, width)`` (unused; kept for the sinabs signature).
        mode: ``"valid"`` or ``"same"``.

    Example:
        >>> compute_padding((3, 4), (1, 8, 8), "same")
        (2, 1, 1, 1)
    """
    if mode == "valid":
        return (0, 0, 0, 0)
    if mode == "same":
        return (*compute_same_padding_size(kernel_shape[1]), *compute_same_padding_size(kernel_shape[0]))
    raise NotImplementedError(f"compute_padding: unknown padding mode {mode!r}; expected 'valid' or 'same'")


def infer_output_shape(torch_layer: nn.Module, input_shape: Sequence[int]) -> tuple[int, ...]:
    """The output shape (without the batch dimension) of ``torch_layer`` for one input of ``input_shape``.

    Runs the layer once, without gradients, on a random tensor of shape ``(1, *input_shape)``.

    Example:
        >>> infer_output_shape(nn.Conv2d(2, 4, 3), (2, 10, 10))
        (4, 8, 8)
    """
    with torch.no_grad():
        out = torch_layer(torch.rand((1, *input_shape)))
    return tuple(out.shape)[1:]
