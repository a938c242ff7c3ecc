"""Shared helpers for spikekit-convert's tests: a small third-party-style spiking layer built only on the core's
protocols (so the pure parts are tested without spikekit-neurons)."""

from __future__ import annotations

import pytest
import torch

from spikekit.protocols import SurrogateSpikeFunction
from spikekit.state import SqueezeMixin, StatefulLayer


class FloorSpike(SurrogateSpikeFunction):
    """Multi-spike rule: ``floor(v / thr)`` for ``v > 0`` (a test double of MultiSpike)."""

    @staticmethod
    def spike_rule(v_mem, spike_threshold):
        return (v_mem > 0) * torch.div(v_mem, spike_threshold, rounding_mode="trunc")


def subtract_reset(spikes, state, spike_threshold):
    new = dict(state)
    new["v_mem"] = state["v_mem"] - spikes * spike_threshold
    return new


def box_surrogate(v_mem, spike_threshold):
    return ((v_mem - spike_threshold).abs() < 0.5).float()


class ToyIAF(StatefulLayer):
    """Integrate-and-fire on ``(B, T, ...)``: ``v += x; s = spike_fn(v); v = reset(s, v); v = max(v, min_v_mem)``."""

    def __init__(
        self,
        spike_threshold=1.0,
        spike_fn=FloorSpike,
        reset_fn=subtract_reset,
        surrogate_grad_fn=box_surrogate,
        min_v_mem=None,
        record_states=False,
    ):
        super().__init__(state_names=["v_mem"])
        self.spike_threshold = torch.nn.Parameter(torch.as_tensor(spike_threshold), requires_grad=False)
        self.spike_fn = spike_fn
        self.reset_fn = reset_fn
        self.surrogate_grad_fn = surrogate_grad_fn
        self.min_v_mem = min_v_mem

    def forward(self, x):  # (B, T, ...)
        if not self.is_state_initialised() or not self.state_has_shape(x[:, 0].shape):
            self.init_state_with_shape(x[:, 0].shape)
        state = {"v_mem": self.v_mem}
        out = []
        for t in range(x.shape[1]):
            state["v_mem"] = state["v_mem"] + x[:, t]
            s = self.spike_fn.apply(state["v_mem"], self.spike_threshold, self.surrogate_grad_fn)
            state = self.reset_fn(s, state, self.spike_threshold)
            if self.min_v_mem is not None:
                state["v_mem"] = torch.relu(state["v_mem"] - self.min_v_mem) + self.min_v_mem
            out.append(s)
        self.v_mem = state["v_mem"]
        return torch.stack(out, 1)

    @property
    def _param_dict(self):
        return dict(
            spike_threshold=self.spike_threshold.detach().clone(),
            spike_fn=self.spike_fn,
            reset_fn=self.reset_fn,
            surrogate_grad_fn=self.surrogate_grad_fn,
            min_v_mem=self.min_v_mem,
        )


class ToyIAFSqueeze(ToyIAF, SqueezeMixin):
    """``ToyIAF`` on ``(B*T, ...)``."""

    def __init__(self, batch_size=None, num_timesteps=None, **kwargs):
        super().__init__(**kwargs)
        self.squeeze_init(batch_size, num_timesteps)

    def forward(self, x):
        return self.squeeze_forward(x, super().forward)

    @property
    def _param_dict(self):
        return self.squeeze_param_dict(super()._param_dict)


@pytest.fixture
def toy_layers():
    return ToyIAF, ToyIAFSqueeze


@pytest.fixture
def toy_activation():
    return dict(spike_fn=FloorSpike, reset_fn=subtract_reset, surrogate_grad_fn=box_surrogate)
