"""Pure time-loop functions of the adaptive LIF neuron (ALIF, after Bellec et al. 2018) and its recurrent form.

One step, for input ``x_t`` and states ``v_mem``, ``i_syn`` (optional), ``b`` and ``spike_threshold``::

    i_syn = α_syn · (i_syn + x_t)                       if alpha_syn is not None, else  i_syn = x_t
    v_mem = α_mem · v_mem + (1 − α_mem) · i_syn           if norm_input, else  α_mem · v_mem + i_syn
    θ     = b0 + adapt_scale · b                          (the threshold in force this step)
    S     = spike_fn(v_mem, θ)
    state = reset_fn(S, state, θ)                         (MembraneSubtract removes θ, not b0)
    b     = α_adapt · b + (1 − α_adapt) · S
    spike_threshold = b0 + adapt_scale · b               (stored for the next step)
    v_mem = relu(v_mem − min_v_mem) + min_v_mem           if min_v_mem is not None

The synapse is the same as LIF's: ``i_syn`` holds the un-normalised current and only the drive into ``v_mem`` is
scaled by ``1 − α_mem``. (sinabs 3.1.3 stores the normalised value in ``i_syn`` and feeds it back, so with a synapse
and ``norm_input=True`` its current decays by an extra ``1 − α_mem`` per step; see ``docs/neurons/differences.md``.)
Without a synapse both agree exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import torch
import torch.nn.functional as F

from spikekit.compute import NeuronParams
from spikekit.protocols import ResetFunction, SpikeFunction, SurrogateGradient
from spikekit_neurons.functional.lif import call_params, fire, time_loop

__all__ = ["alif_forward_single", "alif_forward", "alif_recurrent"]

State = dict[str, torch.Tensor]
Num = torch.Tensor | float


class _Adaptive(NamedTuple):
    """What an ALIF step reads besides ``p``, checked (no None). ``1 − α`` is computed at every step, as sinabs does,
    so that the gradients of the time constants sum in sinabs's order, bit for bit."""

    b0: Num
    alpha_adapt: Num
    adapt_scale: Num
    spike_fn: SpikeFunction
    reset_fn: ResetFunction


def _adaptive(p: NeuronParams) -> _Adaptive:
    """The :class:`_Adaptive` of an adaptive ``p`` (``adapt_scale`` None counts as 0), refusing one that cannot run."""
    if p.spike_fn is None or p.reset_fn is None or p.alpha_adapt is None or p.spike_threshold is None:
        raise ValueError(
            f"{p.layer_name}: an adaptive neuron needs a spike_fn, a reset_fn, alpha_adapt and a base threshold b0"
        )
    adapt_scale = p.adapt_scale if p.adapt_scale is not None else 0.0
    return _Adaptive(p.spike_threshold, p.alpha_adapt, adapt_scale, p.spike_fn, p.reset_fn)


def _step(x: torch.Tensor, state: State, p: NeuronParams, a: _Adaptive) -> tuple[torch.Tensor, State]:
    """One step on a dict this loop owns (entries are replaced, never modified in place)."""
    i_syn = x if p.alpha_syn is None else p.alpha_syn * (state["i_syn"] + x)  # (B, ...)
    state["i_syn"] = i_syn
    drive = (1 - p.alpha_mem) * i_syn if p.norm_input else i_syn
    v_mem = p.alpha_mem * state["v_mem"] + drive
    state["v_mem"] = v_mem
    threshold = a.b0 + a.adapt_scale * state["b"]
    state["spike_threshold"] = threshold
    spikes = fire(a.spike_fn, state, threshold, p.surrogate_grad_fn)
    state = a.reset_fn(spikes, state, threshold)  # a new dict
    b = a.alpha_adapt * state["b"] + (1 - a.alpha_adapt) * spikes
    state["b"] = b
    state["spike_threshold"] = a.b0 + a.adapt_scale * b
    if p.min_v_mem is not None:
        state["v_mem"] = F.relu(state["v_mem"] - p.min_v_mem) + p.min_v_mem
    return spikes, state


def alif_forward_single(
    input_data: torch.Tensor,
    alpha_mem: Num,
    alpha_adapt: Num,
    alpha_syn: Num | None,
    adapt_scale: Num,
    state: Mapping[str, torch.Tensor],
    spike_fn: SpikeFunction,
    reset_fn: ResetFunction,
    surrogate_grad_fn: SurrogateGradient | None,
    min_v_mem: Num | None,
    b0: Num,
    norm_input: bool,
) -> tuple[torch.Tensor, State]:
    """One ALIF time step (equations in the module docstring).

    Args:
        input_data: ``x_t``, shape ``(B, ...)``.
        alpha_mem / alpha_adapt / alpha_syn: decay factors ``exp(-1/τ)``; alpha_syn None means no synapse.
        adapt_scale: threshold increase per unit of ``b``.
        state: ``{"v_mem", ["i_syn"], "b", "spike_threshold"}``, each ``(B, ...)``; not changed.
        b0: the base threshold.

    The other arguments are those of :func:`spikekit_neurons.functional.lif.lif_forward_single`.

    Returns:
        ``(spikes, new_state)``.

    Example:
        >>> from spikekit_neurons.spike_functions import SingleSpike
        >>> from spikekit_neurons.resets import MembraneSubtract
        >>> st = {"v_mem": torch.zeros(1), "b": torch.zeros(1), "spike_threshold": torch.ones(1)}
        >>> s, st = alif_forward_single(torch.tensor([1.5]), 1.0, 0.5, None, 2.0, st, SingleSpike,
        ...                             MembraneSubtract(), None, None, 1.0, False)
        >>> s, st["b"], st["spike_threshold"]
        (tensor([1.]), tensor([0.5000]), tensor([2.]))
    """
    p = call_params(locals(), "alif_forward_single", spike_threshold=b0)
    return _step(input_data, dict(state), p, _adaptive(p))


def alif_loop(x: torch.Tensor, state: Mapping[str, torch.Tensor], p: NeuronParams) -> tuple[torch.Tensor, State, State]:
    """The adaptive LIF neuron over the time axis of ``x`` ``(B, T, ...)``: ``p`` a
    :class:`~spikekit.compute.NeuronParams` with ``alpha_adapt`` set and ``spike_threshold`` the base threshold
    ``b0``. Returns ``(outputs, final_state, recordings)`` as :func:`alif_forward`."""
    adaptive = _adaptive(p)

    def step(x_t: torch.Tensor, current: State) -> tuple[torch.Tensor, State]:
        return _step(x_t, current, p, adaptive)

    return time_loop(x, state, step, p.rec_connect, p.record_states, layer_name=p.layer_name)


def alif_forward(
    input_data: torch.Tensor,
    alpha_mem: Num,
    alpha_adapt: Num,
    alpha_syn: Num | None,
    adapt_scale: Num,
    state: Mapping[str, torch.Tensor],
    spike_fn: SpikeFunction,
    reset_fn: ResetFunction,
    surrogate_grad_fn: SurrogateGradient | None,
    min_v_mem: Num | None,
    b0: Num,
    norm_input: bool,
    record_states: bool = False,
) -> tuple[torch.Tensor, State, State]:
    """Run :func:`alif_forward_single` over every time step of ``input_data`` ``(B, T, ...)``.

    Returns:
        ``(spikes (B, T, ...), final_state, recordings)``; recordings (``record_states=True``) hold every state of
        the initial dict after each step, ``(B, T, ...)``.

    Example:
        >>> from spikekit_neurons.spike_functions import SingleSpike
        >>> from spikekit_neurons.resets import MembraneSubtract
        >>> st = {"v_mem": torch.zeros(1), "b": torch.zeros(1), "spike_threshold": torch.ones(1)}
        >>> s, _, _ = alif_forward(torch.full((1, 4), 1.2), 1.0, 0.5, None, 2.0, st, SingleSpike,
        ...                        MembraneSubtract(), None, None, 1.0, False)
        >>> s  # θ: 1, 2, 1.5, 2.25 while v: 1.2, 1.4, 2.6, 2.3
        tensor([[1., 0., 1., 1.]])
    """
    return alif_loop(input_data, state, call_params(locals(), "alif_forward", spike_threshold=b0))


def alif_recurrent(
    input_data: torch.Tensor,
    alpha_mem: Num,
    alpha_adapt: Num,
    alpha_syn: Num | None,
    adapt_scale: Num,
    state: Mapping[str, torch.Tensor],
    spike_fn: SpikeFunction,
    reset_fn: ResetFunction,
    surrogate_grad_fn: SurrogateGradient | None,
    min_v_mem: Num | None,
    rec_connect: Callable[[torch.Tensor], torch.Tensor],
    b0: Num,
    norm_input: bool,
    record_states: bool = False,
) -> tuple[torch.Tensor, State, State]:
    """:func:`alif_forward` with ``x_t ← x_t + rec_connect(S_{t−1}).reshape(B, ...)`` (zero at the start of a call).

    Example:
        >>> from spikekit_neurons.spike_functions import SingleSpike
        >>> from spikekit_neurons.resets import MembraneSubtract
        >>> st = {"v_mem": torch.zeros(1), "b": torch.zeros(1), "spike_threshold": torch.ones(1)}
        >>> s, _, _ = alif_recurrent(torch.tensor([[1.0, 0.0]]), 1.0, 0.5, None, 0.0, st, SingleSpike,
        ...                          MembraneSubtract(), None, None, lambda s: s, 1.0, False)
        >>> s  # the first spike feeds back one threshold's worth of input
        tensor([[1., 1.]])
    """
    return alif_loop(input_data, state, call_params(locals(), "alif_recurrent", spike_threshold=b0))
