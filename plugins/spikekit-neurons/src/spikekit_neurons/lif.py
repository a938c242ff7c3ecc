"""Leaky integrate-and-fire layers: ``LIF``, ``LIFSqueeze``, ``LIFRecurrent``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from spikekit.compute import NeuronParams
from spikekit.state import (
    SqueezeMixin,
    StatefulLayer,  # noqa: F401
)
from spikekit_neurons._checks import check_neuron_args, check_time_constant
from spikekit_neurons._common import (
    DEFAULT_RESET,
    DEFAULT_SURROGATE,
    NeuronLayer,
    RecurrentMixin,
    as_float_param,
    as_frozen_param,
    neuron_param_dict,
    neuron_params,
    recurrent_init,
    resolve,
)

# Names sinabs's module of the same path offers besides its own (``from sinabs.layers.lif import SingleExponential``).
from spikekit_neurons.resets import MembraneSubtract  # noqa: F401
from spikekit_neurons.spike_functions import MultiSpike
from spikekit_surrogates.sinabs_family import SingleExponential  # noqa: F401

__all__ = ["LIF", "LIFSqueeze", "LIFRecurrent"]


class LIF(NeuronLayer):
    """Leaky integrate-and-fire neurons, optionally with a synaptic current.

    Per time step, with :math:`\\alpha = e^{-1/\\tau}`:

    .. math::
        i_t &= \\alpha_{syn} (i_{t-1} + x_t) \\quad (\\text{or } i_t = x_t \\text{ without } \\tau_{syn}) \\\\
        v_t &= \\alpha_{mem} v_{t-1} + (1 - \\alpha_{mem})\\, i_t \\quad (\\text{norm\\_input; else } + i_t) \\\\
        S_t &= \\text{spike\\_fn}(v_t, \\theta), \\quad v_t \\leftarrow \\text{reset\\_fn}(S_t, v_t, \\theta),
        \\quad v_t \\leftarrow \\max(v_t, v_{min})

    Spikes are emitted in the step in which the threshold is crossed.

    Args:
        tau_mem: membrane time constant (scalar or per-neuron tensor broadcastable to the neuron shape); stored as
            the trainable float32 Parameter ``tau_mem`` (or ``alpha_mem`` with ``train_alphas``).
        tau_syn: synaptic time constant, or None for no synapse (then there is no ``i_syn`` state).
        spike_threshold: threshold :math:`\\theta`, a frozen Parameter (scalar or per-neuron); None only without
            ``spike_fn`` (as :class:`~spikekit_neurons.exp_leak.ExpLeak` builds it).
        spike_fn: spike function, passed as a class (``MultiSpike``, ``SingleSpike``) or instance (``MaxSpike(3)``).
        reset_fn: reset after a spike (``MembraneSubtract()`` by default, or ``MembraneReset()``).
        surrogate_grad_fn: surrogate gradient; default ``spikekit.activation.SingleExponential()``.
        min_v_mem: lower bound of the membrane potential, or None.
        train_alphas: train the decay factors ``alpha_mem`` / ``alpha_syn`` instead of the time constants.
        shape: create the states with this shape ``(B, ...)`` now instead of at the first input.
        norm_input: scale the input by :math:`1 - \\alpha_{mem}`.
        record_states: keep every state at every step in ``self.recordings`` (``{name: (B, T, ...)}``).
        backend: compute backend to run the time loop (None: ``spikekit.use_backend`` or ``"torch"``).

    Shape:
        input ``(B, T, ...)`` with any number of trailing neuron dims; output the same; states ``(B, ...)``.

    After each call ``recordings`` holds the recorded states and ``firing_rate`` the mean output (with its autograd
    graph, as in sinabs; see :class:`~spikekit_neurons._common.FiringRate`).

    Example:
        >>> layer = LIF(tau_mem=10.0, surrogate_grad_fn=lambda v, t: torch.ones_like(v))
        >>> layer(torch.rand(2, 100, 16)).shape
        torch.Size([2, 100, 16])
    """

    def __init__(
        self,
        tau_mem: float | torch.Tensor,
        tau_syn: float | torch.Tensor | None = None,
        spike_threshold: float | torch.Tensor | None = 1.0,
        spike_fn: Any = MultiSpike,
        reset_fn: Any = DEFAULT_RESET,
        surrogate_grad_fn: Any = DEFAULT_SURROGATE,
        min_v_mem: float | torch.Tensor | None = None,
        train_alphas: bool = False,
        shape: torch.Size | tuple[int, ...] | None = None,
        norm_input: bool = True,
        record_states: bool = False,
        *,
        backend: str | None = None,
    ):
        super().__init__(state_names=["v_mem", "i_syn"] if tau_syn is not None else ["v_mem"])
        reset_fn = resolve(reset_fn)
        surrogate_grad_fn = resolve(surrogate_grad_fn) if spike_fn is not None else surrogate_grad_fn
        self._check_args(tau_mem, tau_syn, spike_threshold, spike_fn, reset_fn, surrogate_grad_fn, min_v_mem, shape)
        if train_alphas:
            self.alpha_mem = nn.Parameter(torch.exp(-1.0 / torch.as_tensor(tau_mem, dtype=torch.float32)).detach())
            self.alpha_syn = (
                nn.Parameter(torch.exp(-1.0 / torch.as_tensor(tau_syn, dtype=torch.float32)).detach())
                if tau_syn is not None
                else None
            )
        else:
            self.tau_mem = as_float_param(tau_mem)
            self.tau_syn = as_float_param(tau_syn) if tau_syn is not None else None
        self.spike_fn = spike_fn
        self.reset_fn = reset_fn
        self.surrogate_grad_fn = surrogate_grad_fn
        self.train_alphas = train_alphas
        self.norm_input = norm_input
        self.record_states = record_states
        self.min_v_mem = as_frozen_param(min_v_mem)
        self.spike_threshold = as_frozen_param(spike_threshold)
        self.backend = backend
        if shape:
            self.init_state_with_shape(shape)

    def _check_args(
        self, tau_mem: Any, tau_syn: Any, spike_threshold: Any, spike_fn: Any, reset_fn: Any, surrogate_grad_fn: Any,
        min_v_mem: Any, shape: Any,
    ) -> None:  # fmt: skip
        """Refuse nonsense at construction, naming the layer and the argument (see ``_checks``)."""
        check_time_constant(self, "tau_mem", tau_mem)
        if tau_syn is not None:
            check_time_constant(self, "tau_syn", tau_syn)
        check_neuron_args(
            self, spike_threshold=spike_threshold, spike_fn=spike_fn, reset_fn=reset_fn,
            surrogate_grad_fn=surrogate_grad_fn, min_v_mem=min_v_mem, shape=shape,
        )  # fmt: skip

    # ------------------------------------------------------------------------------------------- time constants
    @property
    def tau_mem_calculated(self) -> torch.Tensor | None:
        """The membrane time constant (``-1/log(alpha_mem)`` with train_alphas)."""
        if self.train_alphas:
            return None if self.alpha_mem is None else -1.0 / torch.log(self.alpha_mem)
        return self.tau_mem

    @property
    def tau_syn_calculated(self) -> torch.Tensor | None:
        """The synaptic time constant, or None without a synapse."""
        if self.train_alphas:
            return None if self.alpha_syn is None else -1.0 / torch.log(self.alpha_syn)
        return self.tau_syn

    # ---------------------------------------------------------------------------------------------------- forward
    _resample_batch = True

    def _neuron_params(self, rec_connect: nn.Module | None, device: torch.device | None = None) -> NeuronParams:
        return neuron_params(
            self, rec_connect, alpha_mem=self.alpha_mem_calculated, alpha_syn=self.alpha_syn_calculated,
            spike_threshold=self.spike_threshold,
        )  # fmt: skip

    def _run(self, input_data: torch.Tensor, rec_connect: nn.Module | None) -> torch.Tensor:
        spikes = super()._run(input_data, rec_connect)
        if "i_syn" not in self._buffers:
            self.i_syn = None  # sinabs exposes i_syn = None on layers without a synapse
        return spikes

    # ---------------------------------------------------------------------------------------------- rebuilding
    @property
    def _param_dict(self) -> dict[str, Any]:
        tau_mem, tau_syn = self.tau_mem_calculated, self.tau_syn_calculated
        return neuron_param_dict(
            self, super()._param_dict, tau_mem=tau_mem.detach() if tau_mem is not None else None,
            tau_syn=tau_syn.detach() if tau_syn is not None else None, spike_threshold=self.spike_threshold,
        )  # fmt: skip


class LIFRecurrent(RecurrentMixin, LIF):
    """:class:`LIF` with a recurrent connection: each step's spikes, through ``rec_connect``, add to the next input.

    .. math:: x_t \\leftarrow x_t + \\text{rec\\_connect}(S_{t-1}), \\quad S_{-1} = 0 \\text{ at the start of each call}

    Args:
        tau_mem: membrane time constant.
        rec_connect: module mapping spikes ``(B, ...)`` to ``B * prod(...)`` values, e.g.
            ``nn.Sequential(nn.Flatten(), nn.Linear(n, n))``; registered as a submodule.

    The other arguments are those of :class:`LIF`.

    A change of batch size or neuron shape re-creates the states as zeros.

    Example:
        >>> rec = nn.Sequential(nn.Flatten(), nn.Linear(8, 8, bias=False))
        >>> layer = LIFRecurrent(tau_mem=10.0, rec_connect=rec, surrogate_grad_fn=lambda v, t: torch.ones_like(v))
        >>> layer(torch.rand(2, 20, 8)).shape
        torch.Size([2, 20, 8])
    """

    __init__ = recurrent_init(LIF.__init__, after="tau_mem")


class LIFSqueeze(SqueezeMixin, LIF):
    """:class:`LIF` taking ``(B*T, ...)`` input, for use between layers such as ``Conv2d`` that know no time axis.

    Args:
        batch_size: ``B``; or give
        num_timesteps: ``T`` (at least one of the two; the other is inferred from the row count).
        **kwargs: the arguments of :class:`LIF`.

    Example:
        >>> layer = LIFSqueeze(tau_mem=10.0, batch_size=2, surrogate_grad_fn=lambda v, t: torch.ones_like(v))
        >>> layer(torch.rand(2 * 50, 4, 8, 8)).shape
        torch.Size([100, 4, 8, 8])
    """
