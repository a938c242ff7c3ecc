"""Leaky integrators without spikes: ``ExpLeak``, ``ExpLeakSqueeze``."""

from __future__ import annotations

from typing import Any

import torch

from spikekit.state import SqueezeMixin
from spikekit_neurons.lif import LIF

__all__ = ["ExpLeak", "ExpLeakSqueeze"]

_EXPLEAK_DROPPED = ("tau_syn", "spike_fn", "reset_fn", "surrogate_grad_fn", "spike_threshold")


class ExpLeak(LIF):
    """An exponentially leaking membrane whose output is the membrane trace itself.

    .. math::
        v_t = \\alpha v_{t-1} + x_t \\quad (\\text{norm\\_input: } \\alpha v_{t-1} + (1-\\alpha) x_t), \\qquad
        y_t = v_t, \\qquad v_t \\leftarrow \\max(v_t, v_{min})

    The output is taken *before* the floor (the stored state is floored). Note that, as in sinabs,
    ``norm_input`` defaults to False here.

    Args:
        tau_mem: membrane time constant (scalar or per-neuron).
        shape, train_alphas, min_v_mem, record_states, backend: as :class:`~spikekit_neurons.lif.LIF`.
        norm_input: scale the input by :math:`1 - \\alpha` (then an impulse integrates to 1 over time).

    Example:
        >>> ExpLeak(tau_mem=2.0)(torch.tensor([[1.0, 0.0, 0.0]])).detach()
        tensor([[1.0000, 0.6065, 0.3679]])
    """

    def __init__(
        self,
        tau_mem: float | torch.Tensor,
        shape: torch.Size | tuple[int, ...] | None = None,
        train_alphas: bool = False,
        min_v_mem: float | torch.Tensor | None = None,
        norm_input: bool = False,
        record_states: bool = False,
        *,
        backend: str | None = None,
    ):
        super().__init__(
            tau_mem=tau_mem,
            tau_syn=None,
            spike_threshold=None,
            spike_fn=None,
            reset_fn=None,
            surrogate_grad_fn=None,
            min_v_mem=min_v_mem,
            train_alphas=train_alphas,
            shape=shape,
            norm_input=norm_input,
            record_states=record_states,
            backend=backend,
        )

    @property
    def _param_dict(self) -> dict[str, Any]:
        param_dict = super()._param_dict
        for key in _EXPLEAK_DROPPED:
            param_dict.pop(key)
        return param_dict


class ExpLeakSqueeze(SqueezeMixin, ExpLeak):
    """:class:`ExpLeak` taking ``(B*T, ...)`` input (give ``batch_size`` or ``num_timesteps``).

    Example:
        >>> ExpLeakSqueeze(tau_mem=5.0, num_timesteps=10)(torch.rand(30, 4)).shape
        torch.Size([30, 4])
    """
