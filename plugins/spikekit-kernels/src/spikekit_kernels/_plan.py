"""Reading a :class:`~spikekit.compute.NeuronParams` into the flat description the fused kernels run.

:func:`make_plan` either returns a :class:`Plan` (flags, per-neuron parameter tensors expanded to ``(B, N)``, the
surrogate's closed form) or a string that says why the configuration is not covered; the backends return that
string from ``unsupported_reason`` so the core falls back to the reference backend with a warning.

Spike, reset and surrogate objects are recognised by the :class:`~spikekit.protocols.ActivationSpec` they carry
(:func:`spikekit.protocols.spec_of`), whoever wrote them: spike kinds ``multi_spike``, ``single_spike``,
``max_spike``; reset kinds ``subtract``, ``reset``; surrogate kinds ``single_exponential``, ``gaussian``,
``multi_gaussian``, ``heaviside``, ``periodic_exponential`` (closed forms evaluated inside the kernel). A surrogate
of another kind is evaluated with torch on the saved membrane potentials during the backward pass (its spec's
``closed_form``, or, without a spec, the callable itself, which the surrogate protocol defines as elementwise), so
it is exact too. A spike or reset function without a spec, or of a kind the kernels do not run, is not covered: the
layer falls back with a warning that names it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch

from spikekit.compute import NeuronParams
from spikekit.protocols import SURROGATE_KINDS, spec_of

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

# surrogate kind -> kernel code; the parameters go in the order of spikekit.protocols.SURROGATE_KINDS
_CLOSED_FORMS: dict[str, int] = {
    "single_exponential": SG_SINGLE_EXP,
    "gaussian": SG_GAUSS,
    "multi_gaussian": SG_MULTI_GAUSS,
    "heaviside": SG_HEAVISIDE,
    "periodic_exponential": SG_PERIODIC_EXP,
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


def _label(obj: Any) -> str:
    return getattr(obj, "__name__", None) or type(obj).__name__


def _number_or_tensor(value: Any) -> float | torch.Tensor | None:
    """A reset value as the kernels take it: a tensor as it is (it may be per-neuron or trainable), else a float."""
    if isinstance(value, torch.Tensor):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _classify(
    fn: Any, reset: Any, sg: Any
) -> tuple[int, int, float, float | torch.Tensor, int, tuple[float, ...], Any] | str:
    """(flags, spike kind, max spikes, reset constant, surrogate kind, surrogate parameters, surrogate callable for
    torch evaluation), or a reason. Reads only the activations' specs; a reset value may be a tensor (per neuron, or
    trainable: see :func:`_untrained_reason`)."""
    flags, spike_kind, max_spikes = F_SPIKING, SPK_MULTI, 0.0
    reset_value: float | torch.Tensor | None = 0.0
    spike = spec_of(fn, "spike")
    reset_spec = spec_of(reset, "reset")
    try:
        if spike is None or spike.kind not in ("multi_spike", "single_spike", "max_spike"):
            what = "has no spec" if spike is None else f"is of kind {spike.kind!r}"
            return f"spike function {_label(fn)} {what} (fused kernels run multi_spike, single_spike, max_spike)"
        if spike.kind == "single_spike":
            spike_kind = SPK_SINGLE
        elif spike.kind == "max_spike":
            m = spike.number("max_num_spikes_per_bin")
            if m is not None:
                flags |= F_MAXCLAMP
                max_spikes = m
        if reset_spec is None or reset_spec.kind not in ("subtract", "reset"):
            what = "has no spec" if reset_spec is None else f"is of kind {reset_spec.kind!r}"
            return f"reset function {_label(reset)} {what} (fused kernels run subtract, reset)"
        if reset_spec.kind == "subtract":
            sub = reset_spec.params.get("subtract_value")
            if sub is not None:
                flags |= F_SUBVAL
                reset_value = _number_or_tensor(sub)
        else:
            flags |= F_RESET
            reset_value = _number_or_tensor(reset_spec.params.get("reset_value", 0.0))
    except ValueError as exc:
        return f"activation parameter not a fixed number ({exc})"
    if reset_value is None:
        return f"the reset value of {_label(reset)} is neither a number nor a tensor"
    if sg is None:
        return "a spike function without a surrogate gradient"
    return (flags, spike_kind, max_spikes, reset_value, *_surrogate_form(sg))


def _surrogate_form(sg: Any) -> tuple[int, tuple[float, ...], Any]:
    """(kernel code, parameters, callable for torch evaluation) of a surrogate."""
    spec = spec_of(sg, "surrogate")
    if spec is None:
        return SG_TENSOR, (0.0,) * 5, sg  # the protocol: any elementwise callable (v_mem, threshold)
    code = _CLOSED_FORMS.get(spec.kind)
    if code is not None:
        try:
            vals = [spec.number(a) for a in SURROGATE_KINDS[spec.kind]]
            if None not in vals:
                return code, tuple([*vals, *[0.0] * (5 - len(vals))]), None  # type: ignore[list-item]
        except ValueError:
            pass  # not a plain-number configuration: evaluate it with torch in the backward pass
    return SG_TENSOR, (0.0,) * 5, spec.closed_form if spec.closed_form is not None else sg


def _untrained_reason(params: NeuronParams, reset_value: Any) -> str | None:
    """Why the kernels cannot give this call's gradients, or None.

    The fused backward returns gradients for the input, the initial state and the decay factors only; any other
    tensor that needs a gradient here (a trainable threshold, floor, adaptation scale, reset or subtract value)
    sends the layer to the reference backend instead of leaving that gradient silently missing."""
    if not torch.is_grad_enabled():
        return None
    reset_spec = spec_of(params.reset_fn, "reset")
    reset_name = "subtract_value" if reset_spec is not None and reset_spec.kind == "subtract" else "reset_value"
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
    if not isinstance(params, NeuronParams):
        return (
            f"only the LIF family (NeuronParams) is covered, not {type(params).__name__} (try the 'compiled' backend)"
        )
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
        extra, spike_kind, max_spikes, reset_value, sg_kind, sg_tuple, surrogate = kinds
        flags |= extra
        sg_params = list(sg_tuple)
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
