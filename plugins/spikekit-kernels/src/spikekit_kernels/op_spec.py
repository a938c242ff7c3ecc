"""The argument lists of the fused op, declared once.

``spikekit_kernels::lif_forward`` and ``lif_backward`` (:mod:`spikekit_kernels.op`) take and return the fields
below, in this order. Their ``torch.library`` schemas, the named tuples every implementation unpacks its arguments
into (:class:`ForwardArgs`, :class:`BackwardArgs`), the named results (:class:`ForwardOut`, :class:`BackwardOut`)
and the autograd formula's gradient tuple are all derived from these lists, so an argument is added or renamed in
one place.

* states ``v0, i0, b0`` and the per-neuron parameters :data:`PARAMS` are ``(B, N)`` tensors; a state the
  configuration lacks (``i0`` without a synapse, ``b0`` without adaptation) is an empty tensor;
* ``flags``, ``spike_kind``, ``sg_kind`` are the codes of :mod:`spikekit_kernels._plan`; ``sg_params`` the
  surrogate's closed-form parameters; ``sg_key`` the key of a registered surrogate callable (0: none).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from spikekit_kernels._plan import F_ALIF, F_SYN, SG_TENSOR

__all__ = [
    "PARAMS",
    "STATES",
    "ForwardArgs",
    "BackwardArgs",
    "ForwardOut",
    "BackwardOut",
    "forward_schema",
    "backward_schema",
    "params_of",
    "saves",
]

Tensor = torch.Tensor

STATES = ("v0", "i0", "b0")
PARAMS = ("alpha_mem", "alpha_syn", "threshold", "floor", "alpha_adapt", "adapt_scale", "reset_const")
# (name, schema type); the Python type follows from the schema type
_FORWARD: list[tuple[str, str]] = [("x", "Tensor"), *((n, "Tensor") for n in STATES + PARAMS)]
_FORWARD += [("flags", "int"), ("spike_kind", "int"), ("max_spikes", "float"), ("record", "bool")]
_FORWARD += [("sg_kind", "int"), ("sg_params", "float[]"), ("sg_key", "int")]
_BACKWARD: list[tuple[str, str]] = [("x", "Tensor"), ("u", "Tensor"), ("isave", "Tensor"), ("bsave", "Tensor")]
_BACKWARD += [(n, "Tensor") for n in STATES + PARAMS]
_BACKWARD += [("g_out", "Tensor")] + [(n, "Tensor?") for n in ("g_recv", "g_reci", "g_recb", "g_vfin", "g_ifin")]
_BACKWARD += [("g_bfin", "Tensor?"), ("sg", "Tensor?")]
_BACKWARD += [("flags", "int"), ("spike_kind", "int"), ("max_spikes", "float"), ("sg_kind", "int")]
_BACKWARD += [("sg_params", "float[]")]
_FORWARD_OUT = ("out", "u", "isave", "bsave", "recv", "vfin", "ifin", "bfin")
_BACKWARD_OUT = ("gx", "gv0", "gi0", "gb0", "g_alpha_mem", "g_alpha_syn", "g_alpha_adapt")
_PY: dict[str, Any] = {"Tensor": Tensor, "Tensor?": "Tensor | None", "int": int, "float": float, "bool": bool,
                       "float[]": list}  # fmt: skip


def _tuple(name: str, fields: list[tuple[str, str]]) -> Any:
    return NamedTuple(name, [(n, _PY[t]) for n, t in fields])


def _schema(fields: list[tuple[str, str]], outs: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"{t} {n}" for n, t in fields) + ") -> (" + ", ".join(["Tensor"] * len(outs)) + ")"


ForwardArgs = _tuple("ForwardArgs", _FORWARD)
BackwardArgs = _tuple("BackwardArgs", _BACKWARD)
ForwardOut = _tuple("ForwardOut", [(n, "Tensor") for n in _FORWARD_OUT])
BackwardOut = _tuple("BackwardOut", [(n, "Tensor") for n in _BACKWARD_OUT])
forward_schema = _schema(_FORWARD, _FORWARD_OUT)
backward_schema = _schema(_BACKWARD, _BACKWARD_OUT)


Params7 = tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]


def params_of(a: Any) -> Params7:
    """The per-neuron parameters of a :class:`ForwardArgs` or :class:`BackwardArgs`, in :data:`PARAMS` order."""
    p = tuple(getattr(a, n) for n in PARAMS)
    return p


def saves(x: Tensor, flags: int, record: bool, sg_kind: int) -> tuple[bool, bool, bool]:
    """Which per-step buffers the forward op returns in full: (u, i, b).

    On the CPU, with a surrogate the loops evaluate themselves (every closed form), the backward recomputes u, i
    and b from the input and the initial state (the same arithmetic, so the same bits) and nothing per step is
    kept; a surrogate callable is evaluated with torch on all steps at once, so then u (and i, b) are kept. i and b
    are also returned when they are recorded. Other devices (the Triton kernels) always keep them."""
    keep = sg_kind == SG_TENSOR or x.device.type != "cpu"
    return keep, bool(flags & F_SYN) and (keep or record), bool(flags & F_ALIF) and (keep or record)
