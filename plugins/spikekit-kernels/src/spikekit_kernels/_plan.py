"""Reading a :class:`~spikekit.backends.NeuronParams` into the flat description the fused kernels run.

:func:`make_plan` either returns a :class:`Plan` (flags, per-neuron parameter tensors expanded to ``(B, N)``, the
surrogate's closed form) or a string that says why the configuration is not covered; the backends return that
string from ``unsupported_reason`` so the core falls back to the reference backend with a warning.

Spike, reset and surrogate objects are recognised by their exact type among the public names of
``spikekit.activation`` (resolved when a backend is used, never at import): ``MultiSpike``, ``SingleSpike``,
``MaxSpike``; ``MembraneSubtract``, ``MembraneReset``; ``SingleExponential``, ``Gaussian``, ``MultiGaussian``,
``Heaviside``, ``PeriodicExponential`` (closed forms evaluated inside the kernel). Any other surrogate callable is
still exact: it is evaluated with torch on the saved membrane potentials during the backward pass.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch

from spikekit.backends import NeuronParams

__all__ = [
    "Plan",
    "make_plan",
    "F_SYN",
    "F_NORM",
    "F_FLOOR",
    "F_ALIF",
    "F_SPIKING",
    "F_RESET",
    "F_SUBVAL",
    "F_MAXCLAMP",
]

F_SYN, F_NORM, F_FLOOR, F_ALIF, F_SPIKING, F_RESET, F_SUBVAL, F_MAXCLAMP = 1, 2, 4, 8, 16, 32, 64, 128
SPK_MULTI, SPK_SINGLE = 0, 1
SG_TENSOR, SG_SINGLE_EXP, SG_GAUSS, SG_MULTI_GAUSS, SG_HEAVISIDE, SG_PERIODIC_EXP = 0, 1, 2, 3, 4, 5

# surrogate class name -> (kernel code, attribute names in kernel order)
_CLOSED_FORMS: dict[str, tuple[int, tuple[str, ...]]] = {
    "SingleExponential": (SG_SINGLE_EXP, ("grad_width", "grad_scale")),
    "Gaussian": (SG_GAUSS, ("mu", "sigma", "grad_scale")),
    "MultiGaussian": (SG_MULTI_GAUSS, ("mu", "sigma", "h", "s", "grad_scale")),
    "Heaviside": (SG_HEAVISIDE, ("window",)),
    "PeriodicExponential": (SG_PERIODIC_EXP, ("grad_width", "grad_scale")),
}


@dataclasses.dataclass
class Plan:
    """One layer call, flattened: ``x`` as ``(B, T, N)``, states and parameters as ``(B, N)``."""

    B: int
    T: int
    N: int
    trail: tuple[int, ...]
    flags: int
    spike_kind: int
    max_spikes: float
    sg_kind: int
    sg_params: list[float]
    surrogate: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None
    # (B, N) tensors (views of expanded parameters; autograd reduces gradients back to the parameter's shape)
    alpha_mem: torch.Tensor
    alpha_syn: torch.Tensor
    threshold: torch.Tensor
    floor: torch.Tensor
    alpha_adapt: torch.Tensor
    adapt_scale: torch.Tensor
    reset_const: torch.Tensor
    state_names: tuple[str, ...]


def _public(name: str) -> Any:
    try:
        import spikekit.activation as act

        return getattr(act, name)
    except Exception:  # not installed: such an object can never match
        return None


def _as_param(value: Any, name: str, like: torch.Tensor, B: int, trail: tuple[int, ...]) -> torch.Tensor | str:
    # a Python number takes the input's dtype directly (as it does in the reference's arithmetic), not via float32
    t = value if isinstance(value, torch.Tensor) else torch.tensor(value, dtype=like.dtype, device=like.device)
    if t.device != like.device:
        return f"{name} is on {t.device}, the input on {like.device}"
    try:
        full = torch.broadcast_to(t.to(like.dtype), (B, *trail))
    except RuntimeError:
        return f"{name} of shape {tuple(t.shape)} does not broadcast to the state shape {(B, *trail)}"
    return full.reshape(B, math.prod(trail))  # not -1: an empty batch leaves it undetermined


def _same(obj: Any, name: str) -> bool:
    # id() rather than `is`: torch.compile cannot trace `is` between autograd.Function classes, but folds id()
    public = _public(name)
    return public is not None and id(obj) == id(public)


def _number_or_tensor(value: Any) -> float | torch.Tensor | None:
    """A reset value as the kernels take it: a tensor as it is (it may be per-neuron or trainable), else a float."""
    if isinstance(value, torch.Tensor):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _classify(fn: Any, reset: Any, sg: Any) -> tuple[int, int, float, Any, int, tuple[float, ...]] | str:
    """(flags, spike kind, max spikes, reset constant, surrogate kind, surrogate parameters), or a reason.

    Written so that ``torch.compile`` folds it to constants while tracing."""
    flags, spike_kind, max_spikes = F_SPIKING, SPK_MULTI, 0.0
    reset_value: float | torch.Tensor | None = 0.0
    if _same(fn, "MultiSpike"):
        spike_kind = SPK_MULTI
    elif _same(fn, "SingleSpike"):
        spike_kind = SPK_SINGLE
    elif _same(type(fn), "MaxSpike"):
        m = fn.max_num_spikes_per_bin
        if m is not None:
            flags |= F_MAXCLAMP
            max_spikes = float(m)
    else:
        return f"spike function {getattr(fn, '__name__', type(fn).__name__)} is not one of MultiSpike, SingleSpike, MaxSpike"
    if _same(type(reset), "MembraneSubtract"):
        if reset.subtract_value is not None:
            flags |= F_SUBVAL
            reset_value = _number_or_tensor(reset.subtract_value)
    elif _same(type(reset), "MembraneReset"):
        flags |= F_RESET
        reset_value = _number_or_tensor(reset.reset_value)
    else:
        return f"reset function {type(reset).__name__} is not one of MembraneSubtract, MembraneReset"
    if reset_value is None:
        return f"the reset value of {type(reset).__name__} is neither a number nor a tensor"
    if sg is None:
        return "a spike function without a surrogate gradient"
    sg_kind, sg_params = SG_TENSOR, (0.0,) * 5
    form = _CLOSED_FORMS.get(type(sg).__name__)
    if form is not None and _same(type(sg), type(sg).__name__):
        try:
            vals = [float(getattr(sg, a)) for a in form[1]]
            sg_kind, sg_params = form[0], tuple(vals + [0.0] * (5 - len(vals)))
        except (AttributeError, TypeError, ValueError):
            pass  # not a plain-number configuration: evaluate it with torch in the backward pass
    return flags, spike_kind, max_spikes, reset_value, sg_kind, sg_params


def _untrained_reason(params: NeuronParams, reset_value: Any) -> str | None:
    """Why the kernels cannot give this call's gradients, or None.

    The fused backward returns gradients for the input, the initial state and the decay factors only; any other
    tensor that needs a gradient here (a trainable threshold, floor, adaptation scale, reset or subtract value)
    sends the layer to the reference backend instead of leaving that gradient silently missing."""
    if not torch.is_grad_enabled():
        return None
    reset_name = "subtract_value" if _same(type(params.reset_fn), "MembraneSubtract") else "reset_value"
    for name, v in (
        ("spike_threshold", params.spike_threshold),
        ("min_v_mem", params.min_v_mem),
        ("adapt_scale", params.adapt_scale),
        (reset_name, reset_value),
    ):
        if isinstance(v, torch.Tensor) and v.requires_grad:
            return f"a trainable {name} (gradients reach only alpha_mem, alpha_syn, alpha_adapt, the input and state)"
    return None


def _state_reason(
    x: torch.Tensor, state: Mapping[str, torch.Tensor], params: NeuronParams, shape: tuple[int, ...]
) -> str | None:
    """Why the state does not fit the kernels (keys, shape ``(B, *trail)``, dtype, device), or None."""
    if "v_mem" not in state:
        return "no v_mem state"
    for k, v in state.items():
        if tuple(v.shape) != shape:
            return f"state {k} has shape {tuple(v.shape)}, expected {shape}"
        if v.dtype != x.dtype or v.device != x.device:
            return f"state {k} is {v.dtype} on {v.device}, the input {x.dtype} on {x.device}"
    syn, alif = params.alpha_syn is not None, params.alpha_adapt is not None
    expected = {"v_mem"} | ({"i_syn"} if syn else set()) | ({"b", "spike_threshold"} if alif else set())
    if set(state) != expected:
        return f"state keys {sorted(state)} are not the expected {sorted(expected)}"
    return None


def make_plan(x: torch.Tensor, state: Mapping[str, torch.Tensor], params: NeuronParams) -> Plan | str:
    """A :class:`Plan` for this call, or the reason it is not covered."""
    if params.rec_connect is not None:
        return "recurrent layers (rec_connect) are not covered"
    if x.dim() < 2:
        return f"expects input of shape (batch, time, ...), got shape {tuple(x.shape)}"
    B, T, *trail_l = x.shape
    trail = tuple(trail_l)
    N = math.prod(trail)
    reason = _state_reason(x, state, params, (B, *trail))
    if reason is not None:
        return reason
    flags = 0
    alif = params.alpha_adapt is not None
    syn = params.alpha_syn is not None
    if syn:
        flags |= F_SYN
    if params.norm_input:
        flags |= F_NORM
    if alif:
        flags |= F_ALIF
    spike_kind, max_spikes = SPK_MULTI, 0.0
    sg_kind, sg_params, surrogate = SG_TENSOR, [0.0] * 5, None
    reset_value: Any = 0.0
    if params.spike_fn is not None:
        kinds = _classify(params.spike_fn, params.reset_fn, params.surrogate_grad_fn)
        if isinstance(kinds, str):
            return kinds
        extra, spike_kind, max_spikes, reset_value, sg_kind, sg_tuple = kinds
        flags |= extra
        sg_params = list(sg_tuple)
        surrogate = params.surrogate_grad_fn
        if params.spike_threshold is None:
            return "a spike function without a spike_threshold"
    elif alif:
        return "an adaptive (ALIF) layer without a spike function"
    if params.min_v_mem is not None:
        flags |= F_FLOOR
    reason = _untrained_reason(params, reset_value)
    if reason is not None:
        return reason
    pieces: dict[str, torch.Tensor] = {}
    for name, value in (
        ("alpha_mem", params.alpha_mem),
        ("alpha_syn", params.alpha_syn if syn else 0.0),
        ("spike_threshold", params.spike_threshold if params.spike_threshold is not None else 0.0),
        ("min_v_mem", params.min_v_mem if params.min_v_mem is not None else 0.0),
        ("alpha_adapt", params.alpha_adapt if alif else 0.0),
        ("adapt_scale", params.adapt_scale if (alif and params.adapt_scale is not None) else 0.0),
        ("reset value", reset_value),
    ):
        p = _as_param(value, name, x, B, trail)
        if isinstance(p, str):
            return p
        pieces[name] = p
    return Plan(
        B=B, T=T, N=N, trail=trail, flags=flags, spike_kind=spike_kind, max_spikes=max_spikes,
        sg_kind=sg_kind, sg_params=sg_params, surrogate=surrogate,
        alpha_mem=pieces["alpha_mem"], alpha_syn=pieces["alpha_syn"], threshold=pieces["spike_threshold"],
        floor=pieces["min_v_mem"], alpha_adapt=pieces["alpha_adapt"], adapt_scale=pieces["adapt_scale"],
        reset_const=pieces["reset value"], state_names=tuple(state),
    )  # fmt: skip
