"""Spike encoders: turn static values or signals into ``(B, T, ...)`` spike trains.

Registered through the ``spikekit_encoders`` hook, so ``spikekit.encoders.get("rate")`` finds them:

* ``rate`` / ``poisson``: :class:`RateEncoder`, independent Bernoulli spikes with probability proportional to the value;
* ``latency``: :class:`LatencyEncoder`, one spike per value, earlier for larger values;
* ``delta``: :class:`DeltaEncoder`, a spike whenever a signal has moved by a threshold since the last spike;
* ``repeat``: :class:`RepeatEncoder`, the value itself at every step (for direct current input).
"""

from __future__ import annotations

import math
import numbers
from typing import TypeVar

import torch
from torch import nn

__all__ = ["RateEncoder", "LatencyEncoder", "DeltaEncoder", "RepeatEncoder"]

_T = TypeVar("_T")


def _check_steps(name: str, num_steps: int) -> int:
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"{name} expects num_steps to be a positive int, got {num_steps!r}")
    return num_steps


def _check_real(name: str, arg: str, value: _T, *, low: float, low_ok: bool, high: float = math.inf) -> _T:
    """A finite real number in ``[low, high)`` (or ``(low, high)`` unless ``low_ok``), returned as given, else an
    error naming both."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: {arg} must be a number, got {value!r} ({type(value).__name__})")
    # compared with the value's own < and <= (all that numbers.Real promises; no rounding through float)
    too_low = value < low if low_ok else value <= low
    if not (math.isfinite(value) and not too_low and value < high):
        bound = f"{'>=' if low_ok else '>'} {low:g}" + (f" and < {high:g}" if high < math.inf else "")
        raise ValueError(f"{name}: {arg} must be a finite number {bound}, got {value!r}")
    return value


class RateEncoder(nn.Module):
    """Rate (Bernoulli / discrete-time Poisson) coding.

    .. math:: p = \\operatorname{clamp}(\\text{gain} \\cdot x, 0, 1), \\qquad S_t \\sim \\text{Bernoulli}(p)
        \\text{ independently for each step } t

    so the expected spike count over ``T`` steps is :math:`T p`.

    Args:
        num_steps: ``T``.
        gain: probability per unit of input (``1`` for inputs in ``[0, 1]``), a finite number > 0.
        generator: optional ``torch.Generator`` for reproducible draws.

    Shape:
        input ``(B, ...)``; output ``(B, T, ...)`` of 0/1 in the input's floating dtype.

    Example:
        >>> enc = RateEncoder(num_steps=1000, generator=torch.Generator().manual_seed(0))
        >>> enc(torch.tensor([[0.0, 0.5, 1.0]])).mean(1)  # doctest: +SKIP
        tensor([[0.0000, 0.4960, 1.0000]])
    """

    def __init__(self, num_steps: int, gain: float = 1.0, generator: torch.Generator | None = None):
        super().__init__()
        self.num_steps = _check_steps("RateEncoder", num_steps)
        self.gain = _check_real("RateEncoder", "gain", gain, low=0.0, low_ok=False)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x if x.is_floating_point() else x.float()
        prob = (self.gain * x).clamp(0, 1).unsqueeze(1)  # (B, 1, ...)
        shape = (x.shape[0], self.num_steps, *x.shape[1:])
        noise = torch.rand(shape, generator=self.generator, device=x.device, dtype=x.dtype)
        return (noise < prob).to(x.dtype)


class LatencyEncoder(nn.Module):
    """Time-to-first-spike coding: one spike per input, at a step that is earlier for larger values.

    With ``x`` normalised to ``[0, 1]`` (values are clamped):

    .. math:: t_{spike} = \\operatorname{round}((1 - x)(T - 1)) \\quad(\\text{linear}), \\qquad
        t_{spike} = \\operatorname{round}\\big(\\tau \\ln\\tfrac{x}{x - \\vartheta}\\big) \\quad (x > \\vartheta,
        \\text{ RC charging; clipped to } T-1)

    Inputs at or below ``threshold`` do not spike.

    Args:
        num_steps: ``T``.
        tau: time constant of the RC variant (> 0; needs ``threshold > 0``); None selects the linear map.
        threshold: :math:`\\vartheta \\in [0, 1)`, the smallest value that still spikes.

    Shape:
        input ``(B, ...)``; output ``(B, T, ...)``.

    Example:
        >>> LatencyEncoder(num_steps=5)(torch.tensor([[1.0, 0.5, 0.0]]))[0].T
        tensor([[1., 0., 0., 0., 0.],
                [0., 0., 1., 0., 0.],
                [0., 0., 0., 0., 0.]])
    """

    def __init__(self, num_steps: int, tau: float | None = None, threshold: float = 0.0):
        super().__init__()
        self.num_steps = _check_steps("LatencyEncoder", num_steps)
        self.threshold = _check_real("LatencyEncoder", "threshold", threshold, low=0.0, low_ok=True, high=1.0)
        if tau is not None:
            _check_real("LatencyEncoder", "tau", tau, low=0.0, low_ok=False)
            if threshold <= 0:
                raise ValueError(
                    "LatencyEncoder: the RC variant (tau given) needs threshold > 0 (every input above 0 would "
                    f"otherwise spike at step 0), got threshold={threshold!r}"
                )
        self.tau = tau

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x if x.is_floating_point() else x.float()).clamp(0, 1)
        last = self.num_steps - 1
        if self.tau is None:
            times = torch.round((1 - x) * last)
        else:
            margin = (x - self.threshold).clamp_min(torch.finfo(x.dtype).tiny)
            times = torch.round(self.tau * torch.log(x / margin)).clamp(max=last)
        fires = x > self.threshold
        steps = torch.arange(self.num_steps, device=x.device, dtype=x.dtype).view(1, -1, *([1] * (x.ndim - 1)))
        return ((steps == times.unsqueeze(1)) & fires.unsqueeze(1)).to(x.dtype)  # (B, T, ...)


class DeltaEncoder(nn.Module):
    """Send-on-delta (threshold-crossing) coding of a signal ``(B, T, ...)``.

    A reference :math:`r` starts at the first sample. At each step:

    .. math:: S_t = \\begin{cases} +1 & x_t - r \\ge \\vartheta \\\\ -1 & r - x_t \\ge \\vartheta
        \\text{ (if off\\_spikes)} \\\\ 0 & \\text{otherwise} \\end{cases}, \\qquad r \\leftarrow r + \\vartheta S_t

    Args:
        threshold: :math:`\\vartheta > 0`.
        off_spikes: emit ``-1`` for downward crossings (otherwise only upward ones count; the reference still
            follows the signal down).

    Shape:
        input ``(B, T, ...)``; output the same.

    Example:
        >>> DeltaEncoder(threshold=0.5)(torch.tensor([[0.0, 0.6, 0.7, 1.2, 0.0]]))
        tensor([[ 0.,  1.,  0.,  1., -1.]])
    """

    def __init__(self, threshold: float = 0.1, off_spikes: bool = True):
        super().__init__()
        self.threshold = _check_real("DeltaEncoder", "threshold", threshold, low=0.0, low_ok=False)
        self.off_spikes = off_spikes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 2:
            raise ValueError(f"DeltaEncoder expects input of shape (batch, time, ...), got shape {tuple(x.shape)}")
        x = x if x.is_floating_point() else x.float()
        reference = x[:, 0]
        out = []
        for t in range(x.shape[1]):
            up = (x[:, t] - reference >= self.threshold).to(x.dtype)
            down = (reference - x[:, t] >= self.threshold).to(x.dtype)
            step = up - down
            reference = reference + self.threshold * step
            out.append(step if self.off_spikes else up)
        return torch.stack(out, 1)


class RepeatEncoder(nn.Module):
    """Repeat a static input at every step: :math:`y_t = x` for :math:`t < T` (constant current input).

    Args:
        num_steps: ``T``.

    Shape:
        input ``(B, ...)``; output ``(B, T, ...)`` (a copy, not a view).

    Example:
        >>> RepeatEncoder(3)(torch.tensor([[0.2, 0.4]])).shape
        torch.Size([1, 3, 2])
    """

    def __init__(self, num_steps: int):
        super().__init__()
        self.num_steps = _check_steps("RepeatEncoder", num_steps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1).repeat(1, self.num_steps, *([1] * (x.ndim - 1)))
