"""Pure time-loop functions of the leaky integrate-and-fire family (IAF, LIF, ExpLeak and their recurrent forms).

One step, for input ``x_t`` of shape ``(B, ...)`` and states of the same shape::

    i_syn = α_syn · (i_syn + x_t)                      if alpha_syn is not None, else  i_syn = x_t
    v_mem = α_mem · v_mem + (1 − α_mem) · i_syn          if norm_input, else  α_mem · v_mem + i_syn
    S     = spike_fn(v_mem, θ)                          (surrogate gradient backward)
    state = reset_fn(S, state, θ)
    v_mem = relu(v_mem − min_v_mem) + min_v_mem          if min_v_mem is not None

Spikes appear in the step in which the threshold is crossed. Without a spike function (``spike_fn=None``, a leaky
integrator) the output is ``v_mem`` *before* the floor. The floor is written ``relu(v − m) + m`` (not ``clamp``) to
match sinabs bit for bit, including gradient 0 exactly at the bound.

The functions take and return plain dicts of tensors and never change a tensor in place, so gradients flow to the
input, the initial state and the decay factors. Their signatures are those of ``sinabs.layers.functional``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F

from spikekit.compute import NeuronParams
from spikekit.protocols import ResetFunction, SpikeFunction, SurrogateGradient
from spikekit.state import ShapeMismatchError
from spikekit_neurons.spike_functions import MaxSpike, MultiSpike, SingleSpike

__all__ = ["lif_forward_single", "lif_forward", "lif_recurrent"]

State = dict[str, torch.Tensor]
Num = torch.Tensor | float


_V_MEM_ONLY = frozenset({id(MultiSpike), id(SingleSpike)})


def fire(
    spike_fn: SpikeFunction, state: State, spike_threshold: torch.Tensor | float | None,
    surrogate_grad_fn: SurrogateGradient | None,
) -> torch.Tensor:  # fmt: skip
    """Call ``spike_fn`` on the states it names in ``required_states``.

    The built-in spike functions all read ``v_mem`` alone; they are recognised by ``id`` (classes live as long as
    their module), so that ``torch.compile`` traces the step: dynamo can neither read an attribute of an
    ``autograd.Function`` class nor compare two of them with ``is``, but it traces ``id``.
    """
    if id(spike_fn) in _V_MEM_ONLY or isinstance(spike_fn, MaxSpike):
        return spike_fn.apply(state["v_mem"], spike_threshold, surrogate_grad_fn)
    return spike_fn.apply(*[state[n] for n in spike_fn.required_states], spike_threshold, surrogate_grad_fn)


def call_params(args: Mapping[str, Any], layer_name: str, **renamed: Any) -> NeuronParams:
    """The :class:`~spikekit.compute.NeuronParams` of a sinabs-signature call: ``args`` (the caller's arguments by
    name) filtered to the fields of ``NeuronParams``, plus ``renamed`` (fields the sinabs signature names otherwise).

    Numbers are passed through as given (a float stays a float), so the loop computes what the call asked for.
    """
    fields = {f.name: args[f.name] for f in dataclasses.fields(NeuronParams) if f.name in args}
    return NeuronParams(**fields, **renamed, layer_name=layer_name)


def _step(x: torch.Tensor, state: State, p: NeuronParams) -> tuple[torch.Tensor, State]:
    """One step on a dict this loop owns (entries are replaced, never modified in place).

    ``1 − α_mem`` is computed at every step, as sinabs does: computed once per call, its gradient would sum over the
    steps before reaching ``α_mem``, a different order of float additions (``tau_mem``'s gradient then differs
    from sinabs's in the last bits, about 1e-7 relative in float32).
    """
    i_syn = x if p.alpha_syn is None else p.alpha_syn * (state["i_syn"] + x)  # (B, ...)
    state["i_syn"] = i_syn
    drive = (1 - p.alpha_mem) * i_syn if p.norm_input else i_syn
    v_mem = p.alpha_mem * state["v_mem"] + drive
    state["v_mem"] = v_mem
    if p.spike_fn is not None:
        spikes = fire(p.spike_fn, state, p.spike_threshold, p.surrogate_grad_fn)
        state = p.reset_fn(spikes, state, p.spike_threshold)  # type: ignore[misc, arg-type]  # a new dict
    else:
        spikes = v_mem  # leaky integrator: the pre-floor membrane trace
    if p.min_v_mem is not None:
        state["v_mem"] = F.relu(state["v_mem"] - p.min_v_mem) + p.min_v_mem
    return spikes, state


def lif_forward_single(
    input_data: torch.Tensor,
    alpha_mem: torch.Tensor | float,
    alpha_syn: torch.Tensor | float | None,
    state: Mapping[str, torch.Tensor],
    spike_threshold: torch.Tensor | float | None,
    spike_fn: SpikeFunction | None,
    reset_fn: ResetFunction | None,
    surrogate_grad_fn: SurrogateGradient | None,
    min_v_mem: torch.Tensor | float | None,
    norm_input: bool,
) -> tuple[torch.Tensor, State]:
    """One LIF time step (equations in the module docstring).

    Args:
        input_data: ``x_t``, shape ``(B, ...)``.
        alpha_mem / alpha_syn: decay factors ``exp(-1/τ)``, scalars or broadcastable per-neuron tensors; alpha_syn
            None means no synapse.
        state: ``{"v_mem": (B, ...), ["i_syn": (B, ...)]}``; not changed.
        spike_threshold, spike_fn, reset_fn, surrogate_grad_fn: see :mod:`spikekit.protocols`.
        min_v_mem: lower bound of ``v_mem`` or None.
        norm_input: scale the drive by ``1 − α_mem``.

    Returns:
        ``(spikes, new_state)``; ``new_state`` always holds ``i_syn`` (equal to ``x_t`` without a synapse).

    Example:
        >>> from spikekit_neurons.spike_functions import MultiSpike
        >>> from spikekit_neurons.resets import MembraneSubtract
        >>> s, st = lif_forward_single(torch.tensor([2.5]), 1.0, None, {"v_mem": torch.zeros(1)}, 1.0,
        ...                            MultiSpike, MembraneSubtract(), None, None, False)
        >>> s, st["v_mem"]
        (tensor([2.]), tensor([0.5000]))
    """
    p = call_params(locals(), "lif_forward_single")
    return _step(input_data, dict(state), p)


def lif_loop(x: torch.Tensor, state: Mapping[str, torch.Tensor], p: NeuronParams) -> tuple[torch.Tensor, State, State]:
    """The LIF family over the time axis of ``x`` ``(B, T, ...)``: ``p`` says which model (see
    :class:`~spikekit.compute.NeuronParams`; ``p.alpha_adapt`` must be None). Returns ``(outputs, final_state,
    recordings)`` as :func:`lif_forward`."""

    def step(x_t: torch.Tensor, current: State) -> tuple[torch.Tensor, State]:
        return _step(x_t, current, p)

    return time_loop(x, state, step, p.rec_connect, p.record_states, layer_name=p.layer_name)


def time_loop(
    input_data: torch.Tensor,
    state: Mapping[str, torch.Tensor],
    step: Callable[[torch.Tensor, State], tuple[torch.Tensor, State]],
    rec_connect: Callable[[torch.Tensor], torch.Tensor] | None,
    record_states: bool,
    *,
    layer_name: str = "rec_connect",
) -> tuple[torch.Tensor, State, State]:
    """Run ``step(x_t, state) -> (output, new_state)`` over the time axis (dim 1) of ``input_data`` ``(B, T, ...)``.

    Shared by the LIF and ALIF loops: adds the recurrent drive ``rec_connect(S_{t-1})`` (zero at the first step)
    and records every state after every step when ``record_states``. Returns ``(outputs (B, T, ...), final_state,
    recordings)``. A ``rec_connect`` whose output does not hold one value per neuron raises
    :class:`~spikekit.state.ShapeMismatchError` naming ``layer_name``.
    """
    batch_size, _n_steps, *trailing = input_data.shape
    current: State = dict(state)
    outputs: list[torch.Tensor] = []
    recorded: dict[str, list[torch.Tensor]] = {n: [] for n in state} if record_states else {}
    rec_out: torch.Tensor | None = None
    # unbind: one backward node for all steps (indexing x[:, t] would scatter each step's gradient into a
    # full-size zero tensor, T times over)
    for x_t in torch.unbind(input_data, 1):  # each (B, ...)
        if rec_connect is not None:
            if rec_out is None:  # recurrent drive starts at zero in every call
                rec_out = torch.zeros((batch_size, *trailing), device=input_data.device, dtype=input_data.dtype)
            x_t = x_t + rec_out
        spikes, current = step(x_t, current)
        outputs.append(spikes)
        for n in recorded:  # post-reset, post-floor values; no step changes a tensor in place, so no clone
            recorded[n].append(current[n])
        if rec_connect is not None:
            # computed after the last step too, as sinabs does, so a stochastic rec_connect draws the same numbers
            drive = rec_connect(spikes)
            if drive.numel() != spikes.numel():
                raise ShapeMismatchError(
                    f"{layer_name}: rec_connect maps spikes of shape {tuple(spikes.shape)} to shape "
                    f"{tuple(drive.shape)} ({drive.numel()} values); expected {spikes.numel()} values (batch * neurons), "
                    "one recurrent input per neuron"
                )
            rec_out = drive.reshape((batch_size, *trailing))
    recordings = {n: torch.stack(v, 1) for n, v in recorded.items()}  # (B, T, ...)
    return torch.stack(outputs, 1), current, recordings


def lif_forward(
    input_data: torch.Tensor,
    alpha_mem: torch.Tensor | float,
    alpha_syn: torch.Tensor | float | None,
    state: Mapping[str, torch.Tensor],
    spike_threshold: torch.Tensor | float | None,
    spike_fn: SpikeFunction | None,
    reset_fn: ResetFunction | None,
    surrogate_grad_fn: SurrogateGradient | None,
    min_v_mem: torch.Tensor | float | None,
    norm_input: bool,
    record_states: bool = False,
) -> tuple[torch.Tensor, State, State]:
    """Run :func:`lif_forward_single` over every time step of ``input_data``.

    Args:
        input_data: ``(B, T, ...)``.
        state: initial states, each ``(B, ...)``; not changed.
        record_states: also return every state after every step.

    The other arguments are those of :func:`lif_forward_single`.

    Returns:
        ``(spikes (B, T, ...), final_state, recordings)`` where ``recordings[name]`` is ``(B, T, ...)`` for each
        name of the initial ``state`` (empty dict unless ``record_states``); recorded values are post-reset and
        post-floor.

    Example:
        >>> from spikekit_neurons.spike_functions import MultiSpike
        >>> from spikekit_neurons.resets import MembraneSubtract
        >>> x = torch.tensor([[2.5, 0.0, 0.7, 0.4]])
        >>> s, st, _ = lif_forward(x, 1.0, None, {"v_mem": torch.zeros(1)}, 1.0, MultiSpike, MembraneSubtract(),
        ...                        None, None, False)
        >>> s
        tensor([[2., 0., 1., 0.]])
    """
    return lif_loop(input_data, state, call_params(locals(), "lif_forward"))


def lif_recurrent(
    input_data: torch.Tensor,
    alpha_mem: torch.Tensor | float,
    alpha_syn: torch.Tensor | float | None,
    state: Mapping[str, torch.Tensor],
    spike_threshold: torch.Tensor | float | None,
    spike_fn: SpikeFunction | None,
    reset_fn: ResetFunction | None,
    surrogate_grad_fn: SurrogateGradient | None,
    min_v_mem: torch.Tensor | float | None,
    norm_input: bool,
    rec_connect: Callable[[torch.Tensor], torch.Tensor],
    record_states: bool = False,
) -> tuple[torch.Tensor, State, State]:
    """:func:`lif_forward` with a recurrent connection: ``x_t ← x_t + rec_connect(S_{t−1}).reshape(B, ...)``.

    The recurrent drive starts at zero in every call (it does not carry over between calls). ``rec_connect`` must
    return ``B · prod(...)`` values per step (typically ``nn.Sequential(nn.Flatten(), nn.Linear(n, n))``).
    Recordings hold each step's own post-reset state (sinabs 3.1.3 records them shifted by one step).

    Example:
        >>> from spikekit_neurons.spike_functions import MultiSpike
        >>> from spikekit_neurons.resets import MembraneSubtract
        >>> rec = lambda s: 0.5 * s  # each spike feeds half a threshold back to its own neuron
        >>> s, _, _ = lif_recurrent(torch.tensor([[1.0, 0.0, 0.5]]), 1.0, None, {"v_mem": torch.zeros(1)}, 1.0,
        ...                         MultiSpike, MembraneSubtract(), None, None, False, rec)
        >>> s
        tensor([[1., 0., 1.]])
    """
    return lif_loop(input_data, state, call_params(locals(), "lif_recurrent"))
