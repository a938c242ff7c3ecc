"""Adaptive leaky integrate-and-fire layers: ``ALIF``, ``ALIFSqueeze``, ``ALIFRecurrent``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from spikekit.compute import NeuronParams
from spikekit.state import (
    SqueezeMixin,
    StatefulLayer,  # noqa: F401
)
from spikekit_neurons._checks import (
    as_numbers,
    check_finite,
    check_neuron_args,
    check_time_constant,
)
from spikekit_neurons._common import (
    DEFAULT_RESET,
    DEFAULT_SURROGATE,
    NeuronLayer,
    RecurrentMixin,
    as_float_param,
    neuron_param_dict,
    neuron_params,
    recurrent_init,
    resolve,
)

# Names sinabs's module of the same path offers besides its own (``from sinabs.layers.lif import SingleExponential``).
from spikekit_neurons.resets import MembraneSubtract  # noqa: F401
from spikekit_neurons.spike_functions import SingleSpike
from spikekit_surrogates.sinabs_family import SingleExponential  # noqa: F401

__all__ = ["ALIF", "ALIFSqueeze", "ALIFRecurrent"]


def _tau_param(value: Any) -> nn.Parameter:
    # sinabs keeps the given dtype (a float64 tensor stays float64); integers become floats instead of failing.
    return as_float_param(value, dtype=None)


def _has_syn(tau_syn: Any) -> bool:
    # sinabs tests `if tau_syn` (so tau_syn=0 gives no Parameter); a per-neuron tensor counts as given
    return tau_syn is not None and ((isinstance(tau_syn, torch.Tensor) and tau_syn.numel() > 1) or bool(tau_syn))


def _tau_from_alpha(alpha: torch.Tensor | None) -> torch.Tensor | None:
    return None if alpha is None else -1 / torch.log(alpha.detach())


class ALIF(NeuronLayer):
    """Adaptive LIF neurons (LSNN, Bellec et al. 2018): every spike raises the threshold, which then relaxes.

    Per time step, with :math:`\\alpha = e^{-1/\\tau}`:

    .. math::
        i_t &= \\alpha_{syn}(i_{t-1} + x_t) \\quad (\\text{or } i_t = x_t \\text{ without } \\tau_{syn}) \\\\
        v_t &= \\alpha_{mem} v_{t-1} + (1 - \\alpha_{mem})\\, i_t \\quad (\\text{norm\\_input; else } + i_t) \\\\
        \\theta_t &= b_0 + \\text{adapt\\_scale} \\cdot b_{t-1} \\\\
        S_t &= \\text{spike\\_fn}(v_t, \\theta_t) \\\\
        v_t &\\leftarrow \\text{reset\\_fn}(S_t, v_t, \\theta_t) \\\\
        b_t &= \\alpha_{adapt} b_{t-1} + (1 - \\alpha_{adapt}) S_t \\\\
        \\text{spike\\_threshold} &= b_0 + \\text{adapt\\_scale} \\cdot b_t \\\\
        v_t &\\leftarrow \\max(v_t, v_{min})

    ``MembraneSubtract`` removes the *current* adaptive threshold :math:`\\theta_t`, and ``b`` is never zeroed
    (sinabs behaves the same, although its docstring says otherwise).

    States: ``v_mem``, ``i_syn`` (with ``tau_syn``), ``b``, ``spike_threshold`` (the adaptive threshold, a state
    here); the base threshold is the plain attribute ``b0``.

    Args:
        tau_mem: membrane time constant (Parameter; ``alpha_mem`` with train_alphas).
        tau_adapt: time constant of the threshold adaptation (Parameter; ``alpha_adapt`` with train_alphas).
        tau_syn: synaptic time constant, or None (a falsy value gives no ``tau_syn`` Parameter).
        adapt_scale: threshold increase per unit of ``b``.
        spike_threshold: the base threshold :math:`b_0`.
        spike_fn, reset_fn, surrogate_grad_fn, min_v_mem, shape, train_alphas, norm_input, record_states, backend:
            as :class:`~spikekit_neurons.lif.LIF` (``spike_fn`` defaults to ``SingleSpike``).

    A change of batch size or neuron shape re-creates the states as zeros. After each call ``firing_rate`` is the
    mean output (see :class:`~spikekit_neurons._common.FiringRate`).

    Example:
        >>> layer = ALIF(tau_mem=10.0, tau_adapt=100.0, surrogate_grad_fn=lambda v, t: torch.ones_like(v))
        >>> layer(torch.rand(2, 50, 8)).shape
        torch.Size([2, 50, 8])
    """

    _rate_by_mean = False

    def __init__(
        self,
        tau_mem: float | torch.Tensor,
        tau_adapt: float | torch.Tensor,
        tau_syn: float | torch.Tensor | None = None,
        adapt_scale: float | torch.Tensor = 1.8,
        spike_threshold: float | torch.Tensor = 1.0,
        spike_fn: Any = SingleSpike,
        reset_fn: Any = DEFAULT_RESET,
        surrogate_grad_fn: Any = DEFAULT_SURROGATE,
        min_v_mem: float | torch.Tensor | None = None,
        shape: torch.Size | tuple[int, ...] | None = None,
        train_alphas: bool = False,
        norm_input: bool = True,
        record_states: bool = False,
        *,
        backend: str | None = None,
    ):
        names = ["v_mem", "i_syn", "b", "spike_threshold"] if tau_syn is not None else ["v_mem", "b", "spike_threshold"]
        super().__init__(state_names=names)
        reset_fn, surrogate_grad_fn = resolve(reset_fn), resolve(surrogate_grad_fn)
        self._check_time_args(tau_mem, tau_adapt, tau_syn, adapt_scale)
        check_neuron_args(
            self, spike_threshold=spike_threshold, spike_fn=spike_fn, reset_fn=reset_fn,
            surrogate_grad_fn=surrogate_grad_fn, min_v_mem=min_v_mem, shape=shape,
        )  # fmt: skip
        if train_alphas:
            self.alpha_mem = nn.Parameter(torch.exp(-1 / _tau_param(tau_mem)).detach())
            self.alpha_adapt = nn.Parameter(torch.exp(-1 / _tau_param(tau_adapt)).detach())
            self.alpha_syn = nn.Parameter(torch.exp(-1 / _tau_param(tau_syn)).detach()) if tau_syn is not None else None
        else:
            self.tau_mem = _tau_param(tau_mem)
            self.tau_adapt = _tau_param(tau_adapt)
            self.tau_syn = _tau_param(tau_syn) if _has_syn(tau_syn) else None
        self.adapt_scale = adapt_scale
        # A private copy: sinabs aliases the (shared) default tensor here.
        self.b0 = spike_threshold.detach().clone() if isinstance(spike_threshold, torch.Tensor) else spike_threshold
        self.spike_fn = spike_fn
        self.reset_fn = reset_fn
        self.surrogate_grad_fn = surrogate_grad_fn
        self.min_v_mem = min_v_mem
        self.train_alphas = train_alphas
        self.norm_input = norm_input
        self.record_states = record_states
        self.backend = backend
        if shape:
            self.init_state_with_shape(shape)

    def _check_time_args(self, tau_mem: Any, tau_adapt: Any, tau_syn: Any, adapt_scale: Any) -> None:
        """Refuse nonsense at construction, naming the layer and the argument (see ``_checks``)."""
        check_time_constant(self, "tau_mem", tau_mem)
        check_time_constant(self, "tau_adapt", tau_adapt)
        # sinabs reads a falsy tau_syn (None, 0) as "no synapse": kept; anything else must be a time constant
        if tau_syn is not None:
            as_numbers(self, "tau_syn", tau_syn)
            if _has_syn(tau_syn):
                check_time_constant(self, "tau_syn", tau_syn)
        check_finite(self, "adapt_scale", adapt_scale)

    @property
    def alpha_adapt_calculated(self) -> torch.Tensor:
        """:math:`e^{-1/\\tau_{adapt}}` (the ``alpha_adapt`` Parameter with train_alphas)."""
        return self.alpha_adapt if self.train_alphas else torch.exp(-1 / self.tau_adapt)

    def _neuron_params(self, rec_connect: nn.Module | None, device: torch.device | None = None) -> NeuronParams:
        b0 = self.b0  # a plain attribute, not a buffer: moved to the input's device here
        if isinstance(b0, torch.Tensor) and device is not None and b0.device != device:
            b0 = b0.to(device)
        return neuron_params(
            self, rec_connect, alpha_mem=self.alpha_mem_calculated, alpha_syn=self.alpha_syn_calculated,
            spike_threshold=b0, alpha_adapt=self.alpha_adapt_calculated, adapt_scale=self.adapt_scale,
        )  # fmt: skip

    @property
    def _param_dict(self) -> dict[str, Any]:
        if self.train_alphas:
            tau_mem = _tau_from_alpha(self.alpha_mem)
            tau_adapt = _tau_from_alpha(self.alpha_adapt)
            tau_syn = _tau_from_alpha(self.alpha_syn)
        else:
            tau_mem, tau_adapt, tau_syn = self.tau_mem, self.tau_adapt, self.tau_syn
        return neuron_param_dict(
            self, super()._param_dict, tau_mem=tau_mem, tau_adapt=tau_adapt, tau_syn=tau_syn,
            adapt_scale=self.adapt_scale, spike_threshold=self.b0,
        )  # fmt: skip


class ALIFRecurrent(RecurrentMixin, ALIF):
    """:class:`ALIF` with a recurrent connection: ``x_t ← x_t + rec_connect(S_{t−1})`` (zero at each call's start).

    Args:
        tau_mem, tau_adapt: as :class:`ALIF`.
        rec_connect: module mapping spikes ``(B, ...)`` to ``B * prod(...)`` values; registered as a submodule.

    The other arguments are those of :class:`ALIF`.

    Example:
        >>> rec = nn.Sequential(nn.Flatten(), nn.Linear(4, 4, bias=False))
        >>> layer = ALIFRecurrent(10.0, 50.0, rec, surrogate_grad_fn=lambda v, t: torch.ones_like(v))
        >>> layer(torch.rand(3, 20, 4)).shape
        torch.Size([3, 20, 4])
    """

    __init__ = recurrent_init(ALIF.__init__, after="tau_adapt")


class ALIFSqueeze(SqueezeMixin, ALIF):
    """:class:`ALIF` taking ``(B*T, ...)`` input (give ``batch_size`` or ``num_timesteps``).

    (sinabs 3.1.3 defines it but does not export it from ``sinabs.layers``; spikekit does.)

    Example:
        >>> layer = ALIFSqueeze(tau_mem=10.0, tau_adapt=50.0, batch_size=2,
        ...                     surrogate_grad_fn=lambda v, t: torch.ones_like(v))
        >>> layer(torch.rand(2 * 10, 6)).shape
        torch.Size([20, 6])
    """
