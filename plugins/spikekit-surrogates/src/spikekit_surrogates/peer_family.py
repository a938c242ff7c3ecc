r"""Surrogate gradients used across other SNN libraries (snntorch, spikingjelly, norse), as spikekit dataclasses.

Each is called ``sg(v_mem, spike_threshold)`` and works on :math:`x = v - \vartheta`; widths and slopes are in
units of ``v_mem`` (they do not scale with the threshold). Where the surrogate is the derivative of a function
``F`` (a smoothed step), ``sg.primitive(v_mem, spike_threshold)`` returns ``F``; the tests check the surrogate
against a finite-difference derivative of it. Defaults follow the most used peer, named in each docstring.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from spikekit_surrogates._math import Described, check_positive, check_real

__all__ = [
    "FastSigmoid",
    "ATan",
    "Sigmoid",
    "Triangle",
    "Rectangular",
    "Erf",
    "PiecewiseLinear",
    "StraightThrough",
]


@dataclasses.dataclass
class FastSigmoid(Described):
    r"""SuperSpike's fast sigmoid: the derivative of :math:`x / (1 + k|x|)`.

    .. math::
        \frac{\partial S}{\partial v} = \frac{1}{(1 + k\,|v - \vartheta|)^2}

    Peak 1 at the threshold; area :math:`2/k`. Default ``slope=25`` as in snntorch's ``surrogate.fast_sigmoid``;
    norse's ``SuperSpike`` is the same formula with ``alpha=100`` (``FastSigmoid(slope=100.0)``).

    Reference: F. Zenke, S. Ganguli, "SuperSpike: Supervised learning in multilayer spiking neural networks",
    Neural Computation 30(6), 1514-1541 (2018).

    Args:
        slope: :math:`k` (> 0); larger is narrower.

    Example:
        >>> FastSigmoid()(torch.tensor([1.0, 1.2]), torch.tensor(1.0))
        tensor([1.0000, 0.0278])
    """

    spec_kind = "fast_sigmoid"
    slope: float = 25.0

    def __post_init__(self) -> None:
        check_positive(type(self).__name__, slope=self.slope)

    def __call__(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        return 1.0 / (self.slope * torch.abs(v_mem - spike_threshold) + 1.0) ** 2

    def primitive(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        """``x / (1 + slope*|x|)`` (a step from ``-1/slope`` to ``+1/slope``)."""
        x = v_mem - spike_threshold
        return x / (1.0 + self.slope * torch.abs(x))


@dataclasses.dataclass
class ATan(Described):
    r"""The arctangent surrogate: the derivative of :math:`\tfrac{1}{\pi}\arctan(\tfrac{\pi}{2}\alpha x) + \tfrac12`.

    .. math::
        \frac{\partial S}{\partial v} = \frac{\alpha / 2}{1 + \big(\tfrac{\pi}{2}\alpha\,(v - \vartheta)\big)^2}

    Peak :math:`\alpha/2`, unit area. Default ``alpha=2`` as in snntorch's ``surrogate.atan`` and spikingjelly's
    ``surrogate.ATan``.

    Reference: W. Fang, Z. Yu, Y. Chen, T. Masquelier, T. Huang, Y. Tian, "Incorporating learnable membrane time
    constant to enhance learning of spiking neural networks", ICCV 2021.

    Args:
        alpha: :math:`\alpha` (> 0); larger is narrower and taller.

    Example:
        >>> ATan()(torch.tensor([1.0]), torch.tensor(1.0))
        tensor([1.])
    """

    spec_kind = "atan"
    alpha: float = 2.0

    def __post_init__(self) -> None:
        check_positive(type(self).__name__, alpha=self.alpha)

    def __call__(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        scaled = (math.pi / 2 * self.alpha) * (v_mem - spike_threshold)
        return (self.alpha / 2) / (1 + scaled * scaled)

    def primitive(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        """``atan(pi/2 * alpha * x) / pi + 1/2``."""
        return torch.atan((math.pi / 2 * self.alpha) * (v_mem - spike_threshold)) / math.pi + 0.5


@dataclasses.dataclass
class Sigmoid(Described):
    r"""The logistic surrogate: the derivative of :math:`\sigma(kx)`, :math:`\sigma(z) = 1/(1+e^{-z})`.

    .. math::
        \frac{\partial S}{\partial v} = k\,\sigma(kx)\,\big(1 - \sigma(kx)\big), \qquad x = v - \vartheta

    Peak :math:`k/4`, unit area. Default ``slope=25`` as in snntorch's ``surrogate.sigmoid`` (spikingjelly's
    ``surrogate.Sigmoid`` uses ``alpha=4``).

    Reference: F. Zenke, T. P. Vogels, "The remarkable robustness of surrogate gradient learning for instilling
    complex function in spiking neural networks", Neural Computation 33(4), 899-925 (2021).

    Args:
        slope: :math:`k` (> 0).

    Example:
        >>> Sigmoid()(torch.tensor([1.0]), torch.tensor(1.0))
        tensor([6.2500])
    """

    spec_kind = "sigmoid"
    slope: float = 25.0

    def __post_init__(self) -> None:
        check_positive(type(self).__name__, slope=self.slope)

    def __call__(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        z = self.slope * (v_mem - spike_threshold)
        # sigma(z)(1 - sigma(z)) written as sigma(z)sigma(-z): no cancellation in 1 - sigma(z) for low precisions
        return self.slope * torch.sigmoid(z) * torch.sigmoid(-z)

    def primitive(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        """``sigmoid(slope * x)``."""
        return torch.sigmoid(self.slope * (v_mem - spike_threshold))


@dataclasses.dataclass
class Triangle(Described):
    r"""A triangle (tent) centred on the threshold.

    .. math::
        \frac{\partial S}{\partial v} = \frac{g}{w}\max\!\Big(0,\ 1 - \frac{|v - \vartheta|}{w}\Big)

    Unit area for ``grad_scale=1``; ``width`` is the half-width at the base. ``Triangle(width=1/a)`` equals
    spikingjelly's ``surrogate.PiecewiseQuadratic(alpha=a)`` (default ``a=1``, as here); Bellec et al.'s
    pseudo-derivative is ``Triangle(width=thr, grad_scale=0.3 * thr)``. The primitive is piecewise quadratic
    (:meth:`primitive`).

    References: S. K. Esser et al., "Convolutional networks for fast, energy-efficient neuromorphic computing",
    PNAS 113(41), 11441-11446 (2016); G. Bellec, D. Salaj, A. Subramoney, R. Legenstein, W. Maass, "Long short-term
    memory and learning-to-learn in networks of spiking neurons", NeurIPS 2018.

    Args:
        width: half-width :math:`w` of the base (> 0).
        grad_scale: :math:`g`, the area under the triangle.

    Example:
        >>> Triangle()(torch.tensor([0.5, 1.0, 2.5]), torch.tensor(1.0))
        tensor([0.5000, 1.0000, 0.0000])
    """

    spec_kind = "triangle"
    width: float = 1.0
    grad_scale: float = 1.0

    def __post_init__(self) -> None:
        check_real(type(self).__name__, grad_scale=self.grad_scale)
        check_positive(type(self).__name__, width=self.width)

    def __call__(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        tent = torch.clamp(1 - torch.abs(v_mem - spike_threshold) / self.width, min=0)
        return (self.grad_scale / self.width) * tent

    def primitive(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        """``g * (1/2 + x/w - x|x|/(2w^2))`` inside ``|x| < w``, ``0`` below, ``g`` above."""
        x = torch.clamp((v_mem - spike_threshold) / self.width, -1, 1)
        return self.grad_scale * (0.5 + x - x * torch.abs(x) / 2)


@dataclasses.dataclass
class Rectangular(Described):
    r"""A boxcar of width ``width`` centred on the threshold (the STBP "rectangular" pseudo-derivative).

    .. math::
        \frac{\partial S}{\partial v} = \frac{g}{w}\,\mathbb{1}\big[|v - \vartheta| < w/2\big]

    Unit area for ``grad_scale=1``. Default ``width=1`` as in Wu et al. (their :math:`a = 1`). Its primitive is the
    clipped ramp :math:`g\cdot\mathrm{clip}(x/w + 1/2, 0, 1)`.

    Reference: Y. Wu, L. Deng, G. Li, J. Zhu, L. Shi, "Spatio-temporal backpropagation for training
    high-performance spiking neural networks", Frontiers in Neuroscience 12:331 (2018).

    Args:
        width: full width :math:`w` of the box (> 0).
        grad_scale: :math:`g`, the area under the box.

    Example:
        >>> Rectangular()(torch.tensor([0.4, 1.0, 1.6]), torch.tensor(1.0))
        tensor([0., 1., 0.])
    """

    spec_kind = "rectangular"
    width: float = 1.0
    grad_scale: float = 1.0

    def __post_init__(self) -> None:
        check_real(type(self).__name__, grad_scale=self.grad_scale)
        check_positive(type(self).__name__, width=self.width)

    def __call__(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        x = v_mem - spike_threshold
        return (torch.abs(x) < self.width / 2).to(x.dtype) * (self.grad_scale / self.width)

    def primitive(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        """``g * clip(x/w + 1/2, 0, 1)``."""
        return self.grad_scale * torch.clamp((v_mem - spike_threshold) / self.width + 0.5, 0, 1)


@dataclasses.dataclass
class Erf(Described):
    r"""The Gaussian-error-function surrogate: the derivative of :math:`\tfrac12\,\mathrm{erfc}(-\alpha x)`.

    .. math::
        \frac{\partial S}{\partial v} = \frac{\alpha}{\sqrt{\pi}}\exp\!\big(-\alpha^2 (v - \vartheta)^2\big)

    A Gaussian of standard deviation :math:`1/(\alpha\sqrt2)` and unit area. Default ``alpha=2`` as in
    spikingjelly's ``surrogate.Erf``.

    References: S. K. Esser, R. Appuswamy, P. Merolla, J. V. Arthur, D. S. Modha, "Backpropagation for
    energy-efficient neuromorphic computing", NeurIPS 2015; Wu et al., Frontiers in Neuroscience 12:331 (2018).

    Args:
        alpha: :math:`\alpha` (> 0).

    Example:
        >>> Erf()(torch.tensor([1.0]), torch.tensor(1.0))
        tensor([1.1284])
    """

    spec_kind = "erf"
    alpha: float = 2.0

    def __post_init__(self) -> None:
        check_positive(type(self).__name__, alpha=self.alpha)

    def __call__(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        scaled = self.alpha * (v_mem - spike_threshold)
        return (self.alpha / math.sqrt(math.pi)) * torch.exp(-(scaled * scaled))

    def primitive(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        """``erfc(-alpha * x) / 2``."""
        return torch.erfc(-self.alpha * (v_mem - spike_threshold)) / 2


@dataclasses.dataclass
class PiecewiseLinear(Described):
    r"""A box with leaky tails: the derivative of a continuous piecewise-linear step.

    .. math::
        \frac{\partial S}{\partial v} = \begin{cases} \dfrac{1}{2w} & |v - \vartheta| < w \\[4pt]
            c & \text{otherwise} \end{cases}

    The primitive rises by 1 across the window :math:`[-w, w]` and by slope :math:`c` outside it (:meth:`primitive`),
    so some gradient reaches neurons far from the threshold. Defaults ``width=1, leak=0.01`` as spikingjelly's
    ``surrogate.PiecewiseLeakyReLU(w=1, c=0.01)``.

    Reference: spikingjelly, ``spikingjelly.activation_based.surrogate.PiecewiseLeakyReLU``
    (W. Fang et al., "SpikingJelly: An open-source machine learning infrastructure platform for spike-based
    intelligence", Science Advances 9(40), 2023).

    Args:
        width: half-width :math:`w` of the window (> 0).
        leak: :math:`c`, the gradient outside the window (>= 0 for a monotone primitive).

    Example:
        >>> PiecewiseLinear()(torch.tensor([-1.5, 1.0, 3.5]), torch.tensor(1.0))
        tensor([0.0100, 0.5000, 0.0100])
    """

    spec_kind = "piecewise_linear"
    width: float = 1.0
    leak: float = 0.01

    def __post_init__(self) -> None:
        check_real(type(self).__name__, leak=self.leak)
        check_positive(type(self).__name__, width=self.width)

    def __call__(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        x = v_mem - spike_threshold
        inside = torch.abs(x) < self.width
        return torch.where(inside, torch.full_like(x, 1 / (2 * self.width)), self.leak)

    def primitive(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        """``x/(2w) + 1/2`` inside the window, continued outside with slope ``leak``."""
        x = v_mem - spike_threshold
        w = self.width
        ramp = torch.clamp(x, -w, w) / (2 * w) + 0.5
        return ramp + self.leak * (x - torch.clamp(x, -w, w))


@dataclasses.dataclass
class StraightThrough(Described):
    r"""The straight-through estimator: the backward pass treats the spike as the identity.

    .. math::
        \frac{\partial S}{\partial v} = g

    the derivative of :math:`g\,x`. As in snntorch's ``surrogate.straight_through_estimator`` (``g = 1``).

    Reference: Y. Bengio, N. Léonard, A. Courville, "Estimating or propagating gradients through stochastic
    neurons for conditional computation", arXiv:1308.3432 (2013).

    Args:
        grad_scale: :math:`g`, the constant gradient.

    Example:
        >>> StraightThrough()(torch.tensor([-3.0, 1.0]), torch.tensor(1.0))
        tensor([1., 1.])
    """

    spec_kind = "straight_through"
    grad_scale: float = 1.0

    def __post_init__(self) -> None:
        check_real(type(self).__name__, grad_scale=self.grad_scale)

    def __call__(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        x = v_mem - spike_threshold  # broadcast like every other surrogate
        return torch.ones_like(x) * self.grad_scale

    def primitive(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        """``grad_scale * (v - thr)``."""
        return self.grad_scale * (v_mem - spike_threshold)
