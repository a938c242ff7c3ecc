"""Layers that turn images and signals into random spike trains: ``Img2SpikeLayer``, ``Sig2SpikeLayer``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from spikekit_neurons._checks import check_count, check_finite

__all__ = ["Img2SpikeLayer", "Sig2SpikeLayer"]


def _check_number(layer: str, arg: str, value: Any, *, nonzero: bool) -> Any:
    """A finite, non-negative number (positive with ``nonzero``: a normalisation constant divides)."""
    check_finite(layer, arg, value)
    if (value <= 0) if nonzero else (value < 0):
        bound = "positive (it normalises the input: 0 divides by zero)" if nonzero else "non-negative"
        raise ValueError(f"{layer}: {arg} must be {bound}, got {value!r}")
    return value


class Img2SpikeLayer(nn.Module):
    """Poisson-like rate coding of an image over ``tw`` time steps.

    .. math:: p = \\frac{x}{\\text{norm}} \\cdot \\frac{\\text{max\\_rate}}{1000}, \\qquad
        y_t = \\mathbb{1}[u_t < p], \\quad u_t \\sim U(0, 1)

    With ``negative_spikes``, :math:`p` uses :math:`|x|` and the spikes take the sign of :math:`x`.

    Args:
        image_shape: unused (kept for compatibility).
        tw: number of time steps (a positive int).
        max_rate: firing rate (Hz, at 1 ms per step) of a pixel of value ``norm`` (>= 0).
        norm: the pixel value that maps to ``max_rate`` (> 0).
        squeeze: remove singleton dimensions of the input first.
        negative_spikes: emit ``-1`` spikes for negative pixels.

    Shape:
        input ``(...)``; output ``(tw, ...)``. The noise is drawn on the CPU generator, then moved to the device.

    Example:
        >>> Img2SpikeLayer(None, tw=10)(torch.full((1, 2, 2), 255.0)).shape
        torch.Size([10, 1, 2, 2])
    """

    def __init__(
        self,
        image_shape: Any,
        tw: int = 100,
        max_rate: float = 1000,
        norm: float = 255.0,
        squeeze: bool = False,
        negative_spikes: bool = False,
    ):
        super().__init__()
        self.tw = check_count("Img2SpikeLayer", "tw", tw, what="time steps")
        self.max_rate = _check_number("Img2SpikeLayer", "max_rate", max_rate, nonzero=False)
        self.norm = _check_number("Img2SpikeLayer", "norm", norm, nonzero=True)
        self.squeeze = squeeze
        self.negative_spikes = negative_spikes

    def forward(self, img_input: torch.Tensor) -> torch.Tensor:
        if self.squeeze:
            img_input = img_input.squeeze()
        noise = torch.rand(self.tw, *tuple(img_input.shape)).to(img_input.device)  # (tw, ...)
        scale = self.max_rate / 1000
        if self.negative_spikes:
            spikes = (noise < (img_input.abs() / self.norm) * scale).float() * img_input.sign().float()
        else:
            spikes = (noise < (img_input / self.norm) * scale).float()
        self.spikes_number = spikes.abs().sum()
        self.tw = len(spikes)
        return spikes

    def get_output_shape(self, input_shape: Sequence[int]) -> Sequence[int]:
        """The input shape, unchanged (the time dimension is not included)."""
        return input_shape


class Sig2SpikeLayer(nn.Module):
    """Rate coding of a multi-channel signal: each sample is repeated ``tw`` times and turned into spikes.

    .. math:: y = \\mathbb{1}[u \\cdot \\text{norm\\_level} < x], \\quad u \\sim U(0, 1)

    Args:
        channels_in: number of channels (unused, kept for compatibility).
        tw: time steps per signal sample (up-sampling factor, a positive int).
        norm_level: the signal level that always spikes (> 0).
        spk_out: if False, return the up-sampled signal instead of spikes.

    Shape:
        input ``(C, T)``; output ``(tw * T, C)``.

    Example:
        >>> Sig2SpikeLayer(2, tw=3)(torch.ones(2, 4)).shape
        torch.Size([12, 2])
    """

    def __init__(self, channels_in: int, tw: int = 1, norm_level: float = 1, spk_out: bool = True):
        super().__init__()
        self.tw = check_count("Sig2SpikeLayer", "tw", tw, what="time steps per sample")
        self.norm_level = _check_number("Sig2SpikeLayer", "norm_level", norm_level, nonzero=True)
        self.spk_out = spk_out

    def get_output_shape(self, input_shape: Sequence[int]) -> tuple[int, int]:
        """``(C, T) -> (tw * T, C)``."""
        channels, time_steps = input_shape
        return (self.tw * time_steps, channels)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        if signal.ndim != 2:
            raise ValueError(f"Sig2SpikeLayer expects input of shape (channels, time), got shape {tuple(signal.shape)}")
        channels, time_steps = signal.shape
        if self.tw != 1:
            signal = signal.reshape(-1, 1).repeat(1, self.tw).reshape(channels, -1)  # (C, T * tw)
        signal = signal.transpose(1, 0)  # (T * tw, C)
        if self.spk_out:
            noise = torch.rand(self.tw * time_steps, channels).to(signal.device) * self.norm_level
            out = (noise < signal).float()
        else:
            out = signal
        self.spikes_number = out.abs().sum()
        return out
