r"""The five surrogate gradients of ``sinabs.activation``, with sinabs 3.1.3's defaults and numerics.

Every class is a dataclass called as ``sg(v_mem, spike_threshold)``; it returns, elementwise and with the shape of
``v_mem`` (thresholds broadcast), the pseudo-derivative :math:`\partial S / \partial v` used in the backward pass of
a spike function. Throughout, :math:`x = v - \vartheta` (membrane potential minus threshold) and

.. math::
    \mathcal{N}(x; \mu, \sigma) = \frac{1}{\sigma\sqrt{2\pi}} \exp\!\Big(-\frac{(x-\mu)^2}{2\sigma^2}\Big).

The arithmetic follows sinabs operation for operation, so float32 results are bitwise identical.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from spikekit_surrogates._math import Described, check_positive, check_real, normal_cdf, normal_pdf

__all__ = ["Heaviside", "Gaussian", "MultiGaussian", "SingleExponential", "PeriodicExponential", "gaussian"]

#: sinabs's name for the normal density :math:`\mathcal{N}(x; \mu, \sigma)` (``gaussian(x, mu, sigma)``).
gaussian = normal_pdf


@dataclasses.dataclass
class Heaviside(Described):
    r"""A box surrogate: constant ``1/thr`` at and above ``thr - window``, zero below.

    .. math::
        \frac{\partial S}{\partial v} = \frac{\mathbb{1}[v \ge \vartheta - w]}{\vartheta}

    ``window`` (:math:`w`) is an *absolute* distance in units of ``v_mem`` (sinabs's docstring calls it relative to
    the threshold, but its code, and this class, subtract it as is). With the defaults and ``thr = 1`` this is the
    straight-through estimator for every ``v >= 0``.

    Args:
        window: how far below the threshold the gradient switches on (absolute, same units as ``v_mem``).

    Example:
        >>> Heaviside()(torch.tensor([-0.5, 0.0, 2.0]), torch.tensor(1.0))
        tensor([0., 1., 1.])
    """

    spec_kind = "heaviside"
    window: float = 1.0

    def __post_init__(self) -> None:
        check_real(type(self).__name__, window=self.window)

    def __call__(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        # The mask follows v_mem's dtype (sinabs casts it to float32 whatever the input).
        return (v_mem >= (spike_threshold - self.window)).to(v_mem.dtype) / spike_threshold

    def primitive(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        """``relu(v - (thr - window)) / thr``: a function whose derivative in ``v`` is this surrogate."""
        return torch.relu(v_mem - (spike_threshold - self.window)) / spike_threshold


@dataclasses.dataclass
class Gaussian(Described):
    r"""A Gaussian bump around the threshold.

    .. math::
        \frac{\partial S}{\partial v} = g\,\mathcal{N}(x; \mu, \sigma), \qquad x = v - \vartheta

    the derivative of the smoothed step :math:`g\,\Phi((x-\mu)/\sigma)` (:meth:`primitive`). Peak
    :math:`g / (\sigma\sqrt{2\pi}) \approx 0.798` at ``v = thr`` with the defaults.

    Args:
        mu: offset of the bump's centre from the threshold.
        sigma: its standard deviation (> 0).
        grad_scale: :math:`g`, a factor on the whole gradient.

    Example:
        >>> Gaussian()(torch.tensor([1.0]), torch.tensor(1.0))
        tensor([0.7979])
    """

    spec_kind = "gaussian"
    mu: float = 0.0
    sigma: float = 0.5
    grad_scale: float = 1.0

    def __post_init__(self) -> None:
        check_real(type(self).__name__, mu=self.mu, grad_scale=self.grad_scale)
        check_positive(type(self).__name__, sigma=self.sigma)

    def __call__(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        return normal_pdf(v_mem - spike_threshold, self.mu, self.sigma) * self.grad_scale

    def primitive(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        """``grad_scale * Phi((v - thr - mu) / sigma)``, the normal CDF whose derivative this is."""
        return normal_cdf(v_mem - spike_threshold, self.mu, self.sigma) * self.grad_scale


@dataclasses.dataclass
class MultiGaussian(Described):
    r"""A Gaussian with two wide negative side lobes (Yin, Corradi and Bohté 2021).

    .. math::
        \frac{\partial S}{\partial v} = g\Big[(1+h)\,\mathcal{N}(x; \mu, \sigma)
            - h\,\mathcal{N}(x; \sigma, s\sigma) - h\,\mathcal{N}(x; -\sigma, s\sigma)\Big]

    The side lobes sit at :math:`\pm\sigma` from the threshold (not :math:`\mu \pm \sigma`), as in sinabs. The
    function is negative far from the threshold (e.g. ``-0.031`` at ``v - thr = -2`` with the defaults).

    Reference: B. Yin, F. Corradi, S. M. Bohté, "Accurate and efficient time-domain classification with adaptive
    spiking recurrent neural networks", Nature Machine Intelligence 3, 905-913 (2021).

    Args:
        mu: offset of the central bump from the threshold.
        sigma: width of the central bump (> 0).
        h: weight of each negative lobe.
        s: width of the negative lobes relative to ``sigma`` (> 0).
        grad_scale: :math:`g`, a factor on the whole gradient.

    Example:
        >>> MultiGaussian()(torch.tensor([1.0]), torch.tensor(1.0))
        tensor([0.8782])
    """

    spec_kind = "multi_gaussian"
    mu: float = 0.0
    sigma: float = 0.5
    h: float = 0.15
    s: float = 6
    grad_scale: float = 1.0

    def __post_init__(self) -> None:
        check_real(type(self).__name__, mu=self.mu, h=self.h, grad_scale=self.grad_scale)
        check_positive(type(self).__name__, sigma=self.sigma, s=self.s)

    def __call__(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        x = v_mem - spike_threshold
        centre = (1 + self.h) * normal_pdf(x, self.mu, self.sigma)
        right = self.h * normal_pdf(x, self.sigma, self.s * self.sigma)
        left = self.h * normal_pdf(x, -self.sigma, self.s * self.sigma)
        return (centre - right - left) * self.grad_scale

    def primitive(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        """The same combination of normal CDFs: ``g[(1+h)Phi_c - h Phi_+ - h Phi_-]``."""
        x = v_mem - spike_threshold
        wide = self.s * self.sigma
        return (
            (1 + self.h) * normal_cdf(x, self.mu, self.sigma)
            - self.h * normal_cdf(x, self.sigma, wide)
            - self.h * normal_cdf(x, -self.sigma, wide)
        ) * self.grad_scale


@dataclasses.dataclass
class SingleExponential(Described):
    r"""A two-sided exponential whose width scales with the threshold (Shrestha and Orchard 2018, SLAYER).

    .. math::
        \frac{\partial S}{\partial v} = \frac{g}{w}\exp\!\Big(-\frac{|v - \vartheta|}{w}\Big),
        \qquad w = \vartheta \cdot \text{grad\_width}

    Peak :math:`g/w` (2.0 with the defaults at ``thr = 1``). This is the default surrogate of every sinabs neuron.

    Reference: S. B. Shrestha, G. Orchard, "SLAYER: Spike Layer Error Reassignment in Time", NeurIPS 2018.

    Args:
        grad_width: width of the exponential relative to the threshold (> 0).
        grad_scale: :math:`g`, a factor on the whole gradient.

    Example:
        >>> SingleExponential()(torch.tensor([0.5, 1.0, 1.5]), torch.tensor(1.0))
        tensor([0.7358, 2.0000, 0.7358])
    """

    spec_kind = "single_exponential"
    grad_width: float = 0.5
    grad_scale: float = 1.0

    def __post_init__(self) -> None:
        check_real(type(self).__name__, grad_scale=self.grad_scale)
        check_positive(type(self).__name__, grad_width=self.grad_width)

    def __call__(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        width = spike_threshold * self.grad_width
        return self.grad_scale / width * torch.exp(-torch.abs(v_mem - spike_threshold) / width)

    def primitive(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        """``g*exp(x/w)`` below the threshold, ``g*(2 - exp(-x/w))`` above (continuous at ``x = 0``)."""
        width = spike_threshold * self.grad_width
        x = v_mem - spike_threshold
        below = torch.exp(torch.clamp(x, max=0) / width)
        above = 2 - torch.exp(-torch.clamp(x, min=0) / width)
        return self.grad_scale * torch.where(x < 0, below, above)


@dataclasses.dataclass
class PeriodicExponential(Described):
    r"""An exponential below the threshold that repeats with period ``thr`` above it (Weidel and Sheik 2021).

    Made for :class:`MultiSpike`-style neurons, which emit one more spike at every multiple of the threshold:

    .. math::
        u = \frac{v}{\vartheta} - \tfrac12,\qquad p = \vartheta\,\big(2(u - \lfloor u\rfloor) - 1\big),\qquad
        z = \begin{cases} v - \vartheta & v < \vartheta \\ p & v \ge \vartheta \end{cases},\qquad
        \frac{\partial S}{\partial v} = g\exp\!\Big(-\frac{|z|}{\text{grad\_width}}\Big)

    It equals :math:`g` at every integer multiple of the threshold from ``thr`` up, and its lowest value between
    two multiples is :math:`g\,e^{-\vartheta/\text{grad\_width}}`. Note that ``grad_width`` here is absolute
    (unlike :class:`SingleExponential`).

    Reference: P. Weidel, S. Sheik, "WaveSense: Efficient Temporal Convolutions with Spiking Neural Networks for
    Keyword Spotting", arXiv:2111.01456 (2021).

    Args:
        grad_width: decay length of the exponential in units of ``v_mem`` (> 0).
        grad_scale: :math:`g`, the gradient at each multiple of the threshold.

    Example:
        >>> PeriodicExponential()(torch.tensor([0.5, 1.0, 2.0]), torch.tensor(1.0))
        tensor([0.3679, 1.0000, 1.0000])
    """

    spec_kind = "periodic_exponential"
    grad_width: float = 0.5
    grad_scale: float = 1.0

    def __post_init__(self) -> None:
        check_real(type(self).__name__, grad_scale=self.grad_scale)
        check_positive(type(self).__name__, grad_width=self.grad_width)

    def __call__(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        shifted = v_mem / spike_threshold - 0.5  # multiples of thr sit at half-integers
        sawtooth = spike_threshold * (2 * (shifted - torch.floor(shifted)) - 1)  # 0 at multiples, jumps +-thr between
        below = (v_mem - spike_threshold) * (v_mem < spike_threshold)
        above = sawtooth * (v_mem >= spike_threshold)
        distance = above + below
        return self.grad_scale * torch.exp(-torch.abs(distance) / self.grad_width)
