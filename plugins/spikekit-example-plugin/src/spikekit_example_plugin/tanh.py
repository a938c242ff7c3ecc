r"""A hyperbolic-tangent surrogate gradient, the one thing this example plugin adds to spikekit."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch


@dataclasses.dataclass
class TanhSurrogate:
    r"""The derivative of the smoothed step :math:`\tfrac12\big(1 + \tanh(k\,(v - \vartheta))\big)`.

    .. math::
        \frac{\partial S}{\partial v} = \frac{k}{2}\Big(1 - \tanh^2\big(k\,(v - \vartheta)\big)\Big)

    Peak :math:`k/2` at the threshold, unit area.

    Args:
        slope: :math:`k` (> 0); larger is narrower and taller.

    Example:
        >>> TanhSurrogate()(torch.tensor([1.0]), torch.tensor(1.0))
        tensor([1.])
    """

    slope: float = 2.0

    def __post_init__(self) -> None:
        if not self.slope > 0:
            raise ValueError(f"TanhSurrogate: slope must be > 0, got {self.slope!r}")

    def __call__(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        t = torch.tanh(self.slope * (v_mem - spike_threshold))
        return self.slope / 2 * (1 - t * t)

    def primitive(self, v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        """``(1 + tanh(slope * (v - thr))) / 2``."""
        return (1 + torch.tanh(self.slope * (v_mem - spike_threshold))) / 2
