"""Integrate-and-fire layers: ``IAF``, ``IAFSqueeze``, ``IAFRecurrent`` (LIF without leak)."""

from __future__ import annotations

import math
from typing import Any

import torch

from spikekit.state import SqueezeMixin
from spikekit_neurons._common import DEFAULT_RESET, DEFAULT_SURROGATE, recurrent_init
from spikekit_neurons.lif import LIF, LIFRecurrent

# Names sinabs's module of the same path offers besides its own (``from sinabs.layers.lif import SingleExponential``).
from spikekit_neurons.resets import MembraneSubtract  # noqa: F401
from spikekit_neurons.spike_functions import MultiSpike
from spikekit_surrogates.sinabs_family import SingleExponential  # noqa: F401

__all__ = ["IAF", "IAFSqueeze", "IAFRecurrent"]


class _NoLeak:
    """What IAF and IAFRecurrent share on top of their LIF base: decay 1, and no leak arguments when rebuilt."""

    @property
    def alpha_mem_calculated(self) -> torch.Tensor:
        """Always ``tensor(1.0)``."""
        return torch.tensor(1.0)

    @property
    def _param_dict(self) -> dict[str, Any]:
        param_dict = super()._param_dict  # type: ignore[misc]
        for key in ("tau_mem", "train_alphas", "norm_input"):
            param_dict.pop(key)
        return param_dict


class IAF(_NoLeak, LIF):
    """Integrate-and-fire neurons: :class:`LIF` with :math:`\\alpha_{mem} = 1` and no input normalisation.

    .. math::
        v_t = v_{t-1} + i_t, \\quad S_t = \\text{spike\\_fn}(v_t, \\theta), \\quad
        v_t \\leftarrow \\text{reset\\_fn}(S_t, v_t, \\theta), \\quad v_t \\leftarrow \\max(v_t, v_{min})

    with :math:`i_t = \\alpha_{syn}(i_{t-1} + x_t)` if ``tau_syn`` is given, else :math:`i_t = x_t`. There is no
    ``tau_mem`` Parameter. Without ``min_v_mem``, negative input drives ``v_mem`` without bound.

    Args:
        spike_threshold, spike_fn, reset_fn, surrogate_grad_fn, tau_syn, min_v_mem, shape, record_states, backend:
            as :class:`LIF`.

    Example:
        >>> layer = IAF(surrogate_grad_fn=lambda v, t: torch.ones_like(v))
        >>> layer(torch.tensor([[2.5, 0.0, 0.7, 0.4]]))  # (B=1, T=4), no trailing dims
        tensor([[2., 0., 1., 0.]])
        >>> layer.v_mem
        tensor([0.6000])
    """

    def __init__(
        self,
        spike_threshold: float | torch.Tensor = 1.0,
        spike_fn: Any = MultiSpike,
        reset_fn: Any = DEFAULT_RESET,
        surrogate_grad_fn: Any = DEFAULT_SURROGATE,
        tau_syn: float | torch.Tensor | None = None,
        min_v_mem: float | torch.Tensor | None = None,
        shape: torch.Size | tuple[int, ...] | None = None,
        record_states: bool = False,
        *,
        backend: str | None = None,
    ):
        # LIF named (not super()), so that IAFRecurrent, which is no IAF, can run this constructor too
        LIF.__init__(
            self,
            tau_mem=math.inf,
            tau_syn=tau_syn,
            spike_threshold=spike_threshold,
            spike_fn=spike_fn,
            reset_fn=reset_fn,
            surrogate_grad_fn=surrogate_grad_fn,
            min_v_mem=min_v_mem,
            shape=shape,
            norm_input=False,
            record_states=record_states,
            backend=backend,
        )
        self.tau_mem = None  # no membrane time constant (the Parameter slot is emptied, as in sinabs)


class IAFRecurrent(_NoLeak, LIFRecurrent):
    """:class:`IAF` with a recurrent connection (see :class:`~spikekit_neurons.lif.LIFRecurrent`).

    Args:
        rec_connect: module mapping spikes ``(B, ...)`` to ``B * prod(...)`` values.

    The other arguments are those of :class:`IAF`.

    Example:
        >>> from torch import nn
        >>> rec = nn.Sequential(nn.Flatten(), nn.Linear(4, 4, bias=False))
        >>> IAFRecurrent(rec, surrogate_grad_fn=lambda v, t: torch.ones_like(v))(torch.rand(1, 5, 4)).shape
        torch.Size([1, 5, 4])
    """

    __init__ = recurrent_init(IAF.__init__)


class IAFSqueeze(SqueezeMixin, IAF):
    """:class:`IAF` taking ``(B*T, ...)`` input (give ``batch_size`` or ``num_timesteps``).

    Example:
        >>> layer = IAFSqueeze(batch_size=2, surrogate_grad_fn=lambda v, t: torch.ones_like(v))
        >>> layer(torch.rand(2 * 10, 3, 4, 4)).shape
        torch.Size([20, 3, 4, 4])
    """
