"""Reset functions: what happens to the membrane potential after a neuron spikes.

Each follows :class:`spikekit.protocols.ResetFunction`: ``reset_fn(spikes, state, spike_threshold)`` returns a new
state dict (a shallow copy with a new ``v_mem``) and leaves the given one alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import torch

from spikekit.protocols import ActivationSpec

__all__ = ["MembraneSubtract", "MembraneReset"]


@dataclasses.dataclass
class MembraneSubtract:
    """Subtract the threshold (or a fixed value) once per emitted spike.

    .. math:: v \\leftarrow v - S \\cdot \\theta \\quad(\\text{or } v - S \\cdot \\text{subtract\\_value})

    The gradient flows through ``S`` (and so through the surrogate): :math:`\\partial v'/\\partial v = 1 - \\theta
    \\cdot \\sigma'(v)`.

    Args:
        subtract_value: value subtracted per spike; None means the spike threshold.

    Example:
        >>> MembraneSubtract()(torch.tensor([2.0]), {"v_mem": torch.tensor([2.5])}, torch.tensor(1.0))["v_mem"]
        tensor([0.5000])
    """

    subtract_value: float | None = None

    @property
    def spec(self) -> ActivationSpec:
        """Kind ``"subtract"`` with parameter ``subtract_value`` (None: the threshold)."""
        return ActivationSpec("reset", "subtract", {"subtract_value": self.subtract_value})

    def __call__(
        self, spikes: torch.Tensor, state: Mapping[str, torch.Tensor], spike_threshold: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        new_state = dict(state)
        amount = spike_threshold if self.subtract_value is None else self.subtract_value
        new_state["v_mem"] = state["v_mem"] - spikes * amount
        return new_state


@dataclasses.dataclass
class MembraneReset:
    """Set the membrane potential of every neuron that spiked to ``reset_value``.

    .. math:: v \\leftarrow \\begin{cases} r & S \\ne 0 \\\\ v & S = 0 \\end{cases}

    No gradient passes through the spike mask; spiking neurons get gradient 0.

    Unlike sinabs 3.1.3 (which adds ``reset_value`` to *every* neuron), only spiking neurons are changed; with
    ``reset_value=0`` (the default) both agree.

    Args:
        reset_value: the potential a spiking neuron restarts from.

    Example:
        >>> v = {"v_mem": torch.tensor([1.5, 0.1])}
        >>> MembraneReset(0.3)(torch.tensor([1.0, 0.0]), v, torch.tensor(1.0))["v_mem"]
        tensor([0.3000, 0.1000])
    """

    reset_value: float = 0.0

    @property
    def spec(self) -> ActivationSpec:
        """Kind ``"reset"`` with parameter ``reset_value``."""
        return ActivationSpec("reset", "reset", {"reset_value": self.reset_value})

    def __call__(
        self, spikes: torch.Tensor, state: Mapping[str, torch.Tensor], spike_threshold: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        new_state = dict(state)
        silent = (spikes == 0).to(state["v_mem"].dtype)
        # with reset_value 0 this is bit-identical to sinabs' ``v * silent + 0.0``
        new_state["v_mem"] = state["v_mem"] * silent + (1 - silent) * self.reset_value
        return new_state
