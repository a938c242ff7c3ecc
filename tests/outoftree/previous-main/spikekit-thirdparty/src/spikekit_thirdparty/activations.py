"""A spike function and a surrogate gradient that describe themselves through spikekit's ActivationSpec."""

from __future__ import annotations

import dataclasses

import torch

from spikekit.protocols import ActivationSpec, SurrogateSpikeFunction

__all__ = ["AtLeastSpike", "InverseSquare"]


class AtLeastSpike(SurrogateSpikeFunction):
    """One spike when ``v >= threshold``: the rule of kind ``single_spike``, which fused backends run."""

    spec = ActivationSpec("spike", "single_spike")

    @staticmethod
    def spike_rule(v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
        return (v_mem - spike_threshold >= 0).to(v_mem.dtype)


@dataclasses.dataclass
class InverseSquare:
    """``1 / (1 + (k (v - thr))^2)``: a kind no first-party kernel knows; its closed form is the call itself."""

    sharpness: float = 4.0

    @property
    def spec(self) -> ActivationSpec:
        return ActivationSpec("surrogate", "thirdparty.inverse_square", {"sharpness": self.sharpness}, self)

    def __call__(self, v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
        z = self.sharpness * (v_mem - spike_threshold)
        return 1.0 / (1.0 + z * z)
