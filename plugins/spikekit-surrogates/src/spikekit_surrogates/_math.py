"""Small numerical helpers shared by the surrogate classes (no public API)."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, ClassVar

import torch

from spikekit.protocols import ActivationSpec

# sqrt(2*pi) as sinabs computes it: pi rounded to float32, doubled, square-rooted in float32. The Gaussian
# normaliser is then formed as ``sigma * _SQRT_TWO_PI`` (a 0-dim float32 tensor), so every dtype sees exactly the
# value sinabs uses. A 0-dim CPU tensor combines with tensors on any device.
_SQRT_TWO_PI = torch.sqrt(2 * torch.tensor(math.pi, dtype=torch.float32))


def normal_pdf(x: torch.Tensor, mu: Any, sigma: Any) -> torch.Tensor:
    """``N(x; mu, sigma) = exp(-(x - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi))``, elementwise.

    The operations and their order are those of sinabs 3.1.3, so float32 results agree bit for bit.
    """
    return torch.exp(-((x - mu) ** 2) / (2 * sigma**2)) / (sigma * _SQRT_TWO_PI)


def normal_cdf(x: torch.Tensor, mu: Any, sigma: Any) -> torch.Tensor:
    """``Phi((x - mu) / sigma) = (1 + erf((x - mu) / (sigma sqrt 2))) / 2``: the primitive of :func:`normal_pdf`."""
    return 0.5 * (1 + torch.erf((x - mu) / (sigma * math.sqrt(2.0))))


def check_positive(owner: str, **params: Any) -> None:
    """As :func:`check_real`, and raise ``ValueError`` naming ``owner`` when a plain number is not > 0 (tensors pass)."""
    check_real(owner, **params)
    for name, value in params.items():
        if isinstance(value, numbers.Real) and not float(value) > 0:
            raise ValueError(f"{owner}: {name} must be > 0, got {value!r}")


def check_real(owner: str, **params: Any) -> None:
    """Raise ``TypeError`` naming ``owner`` when a parameter is neither a real number nor a tensor."""
    for name, value in params.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real | torch.Tensor):
            raise TypeError(f"{owner}: {name} must be a real number, got {type(value).__name__} {value!r}")


class Described:
    """Mixin for the surrogate dataclasses: each subclass gets a ``spec`` describing the instance (kind
    ``spec_kind``, its fields as parameters, the instance itself as the closed form backends may evaluate).

    The property is set on every subclass itself, so that it is that class's own description (a further subclass
    that overrides ``__call__`` without its own ``spec`` is not taken for it, see ``spikekit.protocols.spec_of``).
    """

    spec_kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A property made per subclass; mypy does not see attributes that __init_subclass__ sets on cls.
        cls.spec = property(_describe)  # type: ignore[attr-defined]


def _describe(self: Any) -> ActivationSpec:
    params = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
    return ActivationSpec("surrogate", self.spec_kind, params, self)
