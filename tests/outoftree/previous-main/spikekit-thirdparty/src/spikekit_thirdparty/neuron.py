"""DendriticLIF: a two-compartment neuron declared as a per-step function, so any backend can be handed it."""

from __future__ import annotations

import math
from typing import Any

import torch

from spikekit.backends import StepModel, run_neuron
from spikekit.state import StatefulLayer
from spikekit_thirdparty.activations import AtLeastSpike, InverseSquare

__all__ = ["DendriticLIF", "dendritic_step"]


def dendritic_step(
    x: torch.Tensor, state: dict[str, torch.Tensor], params: Any
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``d = a_d (d + x)``, ``v = a_m v + (1 - a_m) d``, spike at the threshold, subtract it."""
    d = params["alpha_dend"] * (state["d"] + x)
    v = params["alpha_mem"] * state["v_mem"] + (1 - params["alpha_mem"]) * d
    spikes = params["spike_fn"].apply(v, params["threshold"], params["surrogate"])
    return spikes, {"v_mem": v - spikes * params["threshold"], "d": d}


class DendriticLIF(StatefulLayer):
    """A dendrite low-pass filters the input and drives the soma. Input ``(batch, time, ...)``.

    Args:
        tau_mem: soma time constant in steps (> 0).
        tau_dend: dendrite time constant in steps (> 0).
        spike_threshold: the soma's threshold.
        backend: compute backend name, or None to follow ``spikekit.use_backend``.
    """

    def __init__(
        self, tau_mem: float, tau_dend: float, spike_threshold: float = 1.0, backend: str | None = None
    ) -> None:
        for name, value in (("tau_mem", tau_mem), ("tau_dend", tau_dend)):
            if not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"DendriticLIF: {name} must be a number > 0, got {value!r}")
        super().__init__(state_names=["v_mem", "d"])
        self.tau_mem, self.tau_dend, self.spike_threshold, self.backend = tau_mem, tau_dend, spike_threshold, backend
        self.spike_fn, self.surrogate_grad_fn = AtLeastSpike, InverseSquare()

    @property
    def _param_dict(self) -> dict[str, Any]:
        return {
            "tau_mem": self.tau_mem,
            "tau_dend": self.tau_dend,
            "spike_threshold": self.spike_threshold,
            "backend": self.backend,
        }

    def step_model(self) -> StepModel:
        """The layer's model, as every backend receives it."""
        params = {
            "alpha_mem": math.exp(-1.0 / self.tau_mem),
            "alpha_dend": math.exp(-1.0 / self.tau_dend),
            "threshold": float(self.spike_threshold),
            "spike_fn": self.spike_fn,
            "surrogate": self.surrogate_grad_fn,
        }
        return StepModel(dendritic_step, params, kind="spikekit_thirdparty.DendriticLIF", layer_name="DendriticLIF")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3:
            raise ValueError(f"DendriticLIF: expected input of shape (batch, time, ...), got {tuple(x.shape)}")
        shape = (x.shape[0], *x.shape[2:])
        if not self.is_state_initialised() or not self.state_has_shape(shape):
            self.init_state_with_shape(shape)
        state = {"v_mem": self.v_mem, "d": self.d}
        spikes, final, _ = run_neuron(self.backend, x, state, self.step_model())
        self.v_mem, self.d = final["v_mem"], final["d"]
        return spikes
