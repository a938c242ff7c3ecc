r"""The fused op: the whole time loop of a LIF-family layer as one ``torch.library`` custom op, with an explicit
reverse-time backward pass, independent of the device that runs it.

Forward, per time step ``t`` and neuron (the equations of :class:`spikekit.compute.NeuronParams`, in the same
arithmetic order as the reference backend so that spikes are bitwise equal)::

    i_t = α_s · (i_{t-1} + x_t)          (synapse)      or   i_t = x_t
    u_t = α_m · w_{t-1} + (1 − α_m) · i_t (norm_input)   or   u_t = α_m · w_{t-1} + i_t
    θ_t = θ0 + β · b_{t-1}                (ALIF)         or   θ_t = θ
    s_t = S(u_t, θ_t)                     MultiSpike (u>0)·trunc(u/θ), MaxSpike min(that, m), SingleSpike 1[u−θ≥0]
    v_t = u_t − s_t · c_t                 MembraneSubtract (c_t = θ_t, or its subtract_value)
    v_t = u_t · σ_t + (1 − σ_t) · r       MembraneReset, σ_t = 1[s_t = 0]
    b_t = α_a · b_{t-1} + (1 − α_a) · s_t (ALIF)
    w_t = relu(v_t − m) + m               (min_v_mem)    or   w_t = v_t

The output is ``s_t`` (``u_t`` for a leaky integrator without spike function). On the CPU with a closed-form
surrogate the op keeps nothing per step: the backward re-runs each block's forward (same code, same bits) into a
private buffer. With a surrogate callable (and on other devices) it keeps ``u_t`` (plus ``i_t`` with a synapse and
``b_t`` for ALIF). Either way ``s_t``, ``θ_t``, ``v_t`` and ``w_{t-1}`` are recomputed from them, with the same bits,
in the backward loop.

Backward (BPTT through the surrogate, ``ψ_t = surrogate(u_t, θ_t)`` replaces dS/du; no gradient reaches θ through
S). Carry the adjoints ``W = ∂L/∂w_t``, ``I = ∂L/∂i_t``, ``Bb = ∂L/∂b_t`` backwards from the gradients of the final
state, and at each step ``t = T … 1`` add the gradients of that step's outputs/recordings (``g_s``, ``g_w``, ``g_i``,
``g_b``)::

    W  ← W + g_w[t];     V = W · 1[v_t − m > 0]   (floor; V = W without it)
    subtract:  U = V;              G_s = g_s[t] − V · c_t;    G_θ = −V · s_t   (only when c_t = θ_t)
    reset:     U = V · σ_t;        G_s = g_s[t]               (no gradient through the spike mask)
    ALIF:      Bt = Bb + g_b[t];   G_s += (1 − α_a) · Bt;  ∂L/∂α_a += Bt · (b_{t-1} − s_t);
               Bb ← α_a · Bt + β · G_θ                    (θ_t = θ0 + β b_{t-1})
    U += G_s · ψ_t
    W ← α_m · U;         ∂L/∂α_m += U · (w_{t-1} − i_t)  (norm_input)   or   U · w_{t-1}
    D = (1 − α_m) · U    (norm_input)   or   D = U
    synapse:   It = I + D + g_i[t];   ∂L/∂x_t = α_s · It;   ∂L/∂α_s += It · (i_{t-1} + x_t);   I ← α_s · It
    no synapse:  ∂L/∂x_t = D

and finally ``∂L/∂w_0 = W``, ``∂L/∂i_0 = I``, ``∂L/∂b_0 = Bb``. A leaky integrator (no spike function) has
``U = V + g_s[t]``. The per-neuron α sums are reduced to each α's own shape by autograd (the op receives the α
expanded to ``(B, N)``). The surrogate ``ψ`` is evaluated inside the loop for the closed forms listed in
:mod:`spikekit_kernels._plan`; any other surrogate callable is evaluated with torch on the saved ``u`` (all steps at
once) before the loop, which is exact for every surrogate.

This module declares the ops ``spikekit_kernels::lif_forward`` and ``lif_backward`` (schemas derived from
:mod:`spikekit_kernels.op_spec`), their fake implementations (so ``torch.compile`` keeps a whole layer as one op and
``torch.export`` records it) and the autograd formula above. Their device-neutral implementation is the torch loop
(:mod:`spikekit_kernels.torch_loop`); a device's own kernels are registered on the op with :func:`register_device`
(the compiled C loop for ``"cpu"`` by :mod:`spikekit_kernels.cpu_backend`, the Triton kernels for ``"cuda"`` by
:mod:`spikekit_kernels.triton_backend`). Eager code calls the registered implementation through
:class:`EagerOp` (no dispatcher); traced code sees the registered op.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import torch

from spikekit_kernels import torch_loop
from spikekit_kernels._plan import F_ALIF, F_SYN, SG_TENSOR
from spikekit_kernels.op_spec import (
    BackwardArgs,
    BackwardOut,
    ForwardArgs,
    ForwardOut,
    backward_schema,
    forward_schema,
    saves,
)

__all__ = ["lif_forward", "lif_backward", "EagerOp", "register_device", "register_surrogate", "eager"]

Tensor = torch.Tensor
Impl = Callable[..., tuple[Tensor, ...]]

lif_forward = torch.library.custom_op(
    "spikekit_kernels::lif_forward", torch_loop.run_forward, mutates_args=(), schema=forward_schema
)
lif_backward = torch.library.custom_op(
    "spikekit_kernels::lif_backward", torch_loop.run_backward, mutates_args=(), schema=backward_schema
)
_devices: dict[str, tuple[Impl, Impl]] = {}
_surrogates: dict[int, object] = {}
_sg_lock = threading.Lock()


def register_device(device_type: str, forward: Impl, backward: Impl) -> None:
    """Make ``forward`` / ``backward`` (arguments and results as :mod:`spikekit_kernels.op_spec` declares them) the
    op's kernels for ``device_type``, for the dispatcher (traced code) and for :class:`EagerOp` alike."""
    lif_forward.register_kernel(device_type)(forward)
    lif_backward.register_kernel(device_type)(backward)
    _devices[device_type] = (forward, backward)


def _impl(x: Tensor, which: int) -> Impl:
    pair = _devices.get(x.device.type)
    if pair is None:
        return torch_loop.run_forward if which == 0 else torch_loop.run_backward
    return pair[which]


def register_surrogate(fn: object) -> int:
    """A key for the surrogate callable ``fn`` (the op's ``sg_key``); ``fn`` is kept alive so the key stays unique."""
    key = id(fn)
    with _sg_lock:
        _surrogates.setdefault(key, fn)
    return key


# ---------------------------------------------------------------------------------------------- fake tensors
@lif_forward.register_fake
def _(*args: Any) -> tuple[Tensor, ...]:
    a = ForwardArgs(*args)
    x, v0 = a.x, a.v0
    full = lambda on: torch.empty_like(x) if on else x.new_empty(0)  # noqa: E731
    state = lambda on: torch.empty_like(v0) if on else x.new_empty(0)  # noqa: E731
    syn, alif = bool(a.flags & F_SYN), bool(a.flags & F_ALIF)
    keep_u, keep_i, keep_b = saves(x, a.flags, a.record, a.sg_kind)
    return full(True), full(keep_u), full(keep_i), full(keep_b), full(a.record), state(True), state(syn), state(alif)


@lif_backward.register_fake
def _(*args: Any) -> tuple[Tensor, ...]:
    a = BackwardArgs(*args)
    x = a.x
    syn, alif = bool(a.flags & F_SYN), bool(a.flags & F_ALIF)
    B, T, N = x.shape
    state = lambda on: x.new_empty(B, N) if on else x.new_empty(0)  # noqa: E731
    return x.new_empty(B, T, N), state(True), state(syn), state(alif), state(True), state(syn), state(alif)


# ------------------------------------------------------------------------------------------------ autograd
_SAVED = ("x", "u", "isave", "bsave", "v0", "i0", "b0", "alpha_mem", "alpha_syn", "threshold", "floor",
          "alpha_adapt", "adapt_scale", "reset_const")  # fmt: skip


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, ...]) -> None:
    a, o = ForwardArgs(*inputs), ForwardOut(*output)
    known = {**a._asdict(), **o._asdict()}
    ctx.save_for_backward(*(known[n] for n in _SAVED))
    ctx.set_materialize_grads(False)  # outputs nobody differentiates (u, ...) get None, not a full zero tensor
    ctx.cfg = (a.flags, a.spike_kind, a.max_spikes, a.sg_kind, list(a.sg_params), a.sg_key)


def _surrogate_tensor(saved: dict[str, Tensor], flags: int, key: int) -> Tensor:
    """ψ(u_t, θ_t) for all steps at once, with the registered surrogate callable."""
    fn = _surrogates[key]
    u, threshold = saved["u"], saved["threshold"]
    if flags & F_ALIF:
        b_prev = torch.cat([saved["b0"].unsqueeze(1), saved["bsave"][:, :-1]], dim=1)  # (B, T, N)
        th = threshold.unsqueeze(1) + saved["adapt_scale"].unsqueeze(1) * b_prev
    else:
        th = threshold.unsqueeze(1).expand_as(u)
    return fn(u, th).to(u.dtype)  # type: ignore[operator]


def _backward(ctx: Any, *grads: Tensor | None) -> tuple[Tensor | None, ...]:
    g = ForwardOut(*grads)
    saved = dict(zip(_SAVED, ctx.saved_tensors))
    x = saved["x"]
    flags, spike_kind, max_spikes, sg_kind, sg_params, key = ctx.cfg
    g_out = g.out if g.out is not None else x.new_zeros(()).expand(x.shape)  # one zero, never materialised
    sg = _surrogate_tensor(saved, flags, key) if sg_kind == SG_TENSOR and key != 0 else None
    given = lambda t: None if t is None or t.numel() == 0 else t  # noqa: E731
    args = BackwardArgs(**saved, g_out=g_out, g_recv=given(g.recv), g_reci=given(g.isave), g_recb=given(g.bsave),
                        g_vfin=given(g.vfin), g_ifin=given(g.ifin), g_bfin=given(g.bfin), sg=sg, flags=flags,
                        spike_kind=spike_kind, max_spikes=max_spikes, sg_kind=sg_kind, sg_params=sg_params)  # fmt: skip
    op = _impl(x, 1) if eager(x) else lif_backward
    r = BackwardOut(*op(*args))
    syn, alif = bool(flags & F_SYN), bool(flags & F_ALIF)
    out = dict.fromkeys(ForwardArgs._fields)
    out.update(x=r.gx, v0=r.gv0, alpha_mem=r.g_alpha_mem)
    if syn:
        out.update(i0=r.gi0, alpha_syn=r.g_alpha_syn)
    if alif:
        out.update(b0=r.gb0, alpha_adapt=r.g_alpha_adapt)
    return tuple(out.values())


lif_forward.register_autograd(_backward, setup_context=_setup_context)


def eager(x: Tensor) -> bool:
    """Whether ``x`` is a plain tensor outside of any tracing (torch.compile, export, fake tensors), where the op's
    implementation may run without going through the torch.library dispatcher."""
    return type(x) is Tensor and not torch.compiler.is_compiling()


class EagerOp(torch.autograd.Function):
    """``lif_forward`` with the same autograd formula, calling the device's registered implementation directly:
    torch.library's dispatch of a custom op (argument defaults, redispatch through the autograd and CPU keys) cost
    about half a millisecond per layer per forward+backward. Traced code (torch.compile, export) keeps seeing the
    registered op."""

    @staticmethod
    def forward(ctx: Any, *inputs: Any) -> tuple[Tensor, ...]:
        output = _impl(inputs[0], 0)(*inputs)
        _setup_context(ctx, inputs, output)
        return output

    @staticmethod
    def backward(ctx: Any, *grads: Tensor | None) -> tuple[Tensor | None, ...]:
        return _backward(ctx, *grads)
