r"""The ``fused-cpu`` backend: the whole time loop in one custom op, with an explicit reverse-time backward pass.

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

The neurons are independent, so the op runs them in the order they are stored: a ``channels_last`` conv's output
(``(B, T, C, H, W)`` stored as ``(B, T, H, W, C)``) is read without a copy and the spikes, states and gradients come
back in the same layout (which the next ``channels_last`` conv or ``SumPool2d`` then reads without a copy either).
Entries of the input gradient below the dtype's smallest normal number (a surrogate far from the threshold times a
small output gradient) are set to zero as they are stored (by both loops): subnormal gradients made the next
layer's backward several times slower.

The loop runs as compiled C (``lif_kernels.c``, one library per configuration with the flags as compile-time
constants so that the neuron loops vectorise; threads over batch rows and neuron blocks) when a C compiler is
available, otherwise as a torch loop over time slices (:mod:`spikekit_kernels._torchloop`). Both are registered as
``torch.library`` custom ops (``spikekit_kernels::lif_forward`` / ``lif_backward``) with fake implementations, so
``torch.compile`` keeps a whole layer as one op with no graph break, and ``torch.export`` records it.

Example:
    >>> import spikekit, spikekit.layers as sl
    >>> layer = sl.LIF(tau_mem=10.0, backend="fused-cpu")        # doctest: +SKIP
    >>> with spikekit.use_backend("fused-cpu"):                  # doctest: +SKIP
    ...     out = model(x)
"""

from __future__ import annotations

import ctypes
import dataclasses
import threading
from collections.abc import Mapping

import torch

from spikekit.compute import BackendResult, NeuronParams, get_backend
from spikekit_kernels import _cc, _torchloop
from spikekit_kernels._plan import F_ALIF, F_SYN, SG_TENSOR, Plan, make_plan
from spikekit_kernels._recurrent import recurrent_plan, run_recurrent

__all__ = ["FusedCPUBackend", "run_plan"]

Tensor = torch.Tensor
_surrogates: dict[int, object] = {}
_sg_lock = threading.Lock()


def _register_surrogate(fn: object) -> int:
    key = id(fn)
    with _sg_lock:
        _surrogates.setdefault(key, fn)  # keep it alive so the id stays unique
    return key


def _ptr(t: Tensor | None) -> int | None:
    return None if t is None or t.numel() == 0 else t.data_ptr()


def _use_c(x: Tensor) -> bool:
    """Whether the compiled loop may run for ``x`` (CPU, float32/float64, a C compiler present)."""
    return x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and _cc.available()


def _lib(x: Tensor, flags: int, spike_kind: int, sg_kind: int) -> ctypes.CDLL | None:
    """The compiled loop specialised for this configuration, or None (then the torch loop runs)."""
    if not _use_c(x):
        return None
    return _cc.library("float" if x.dtype == torch.float32 else "double", flags, spike_kind, sg_kind)


def _args(x: Tensor) -> type:
    return _cc.ArgsF32 if x.dtype == torch.float32 else _cc.ArgsF64


_PARAM_NAMES = ("alpha_mem", "alpha_syn", "threshold", "floor", "alpha_adapt", "adapt_scale", "reset_const")


def _set_params(a: ctypes.Structure, params: tuple[Tensor, ...]) -> None:
    """Point the kernel at the (B, N) parameters with their own strides: broadcast parameters (stride 0) are
    never materialised; the kernel gathers each block into local arrays."""
    for q, (name, t) in enumerate(zip(_PARAM_NAMES, params)):
        if t.dim() != 2:  # not a (B, N) view: make it one
            t = t.reshape(a.B, a.N)
        setattr(a, name, t.data_ptr() if t.numel() else None)
        a.psb[q] = t.stride(0) if t.size(0) > 1 else 0
        a.psn[q] = t.stride(1) if t.size(1) > 1 else 0


def _saves(x: Tensor, flags: int, record: bool, sg_kind: int) -> tuple[bool, bool, bool]:
    """Which per-step buffers the forward op returns in full: (u, i, b).

    On the CPU, with a surrogate the kernels evaluate themselves (every closed form), the backward recomputes u, i
    and b block by block from the input and the initial state (the same arithmetic, so the same bits) and nothing
    per step is kept; a surrogate callable is evaluated with torch on all steps at once, so then u (and i, b) are
    kept. i and b are also returned when they are recorded. Other devices (the Triton kernels) always keep them."""
    keep = sg_kind == SG_TENSOR or x.device.type != "cpu"
    return keep, bool(flags & F_SYN) and (keep or record), bool(flags & F_ALIF) and (keep or record)


# --------------------------------------------------------------------------------------------------- forward op
def _forward_impl(
    x: Tensor, v0: Tensor, i0: Tensor, b0: Tensor, alpha_mem: Tensor, alpha_syn: Tensor, threshold: Tensor,
    floor: Tensor, alpha_adapt: Tensor,
    adapt_scale: Tensor, reset_const: Tensor, flags: int, spike_kind: int, max_spikes: float, record: bool,
    sg_kind: int,
    sg_params: list[float], sg_key: int,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """The whole layer, ``x`` (B, T, N), states and per-neuron parameters (B, N).

    Returns (out, u, i per step, b per step, v recording, final v, final i, final b); unused ones are empty. The
    surrogate arguments (kernel code, closed-form parameters, key of a registered callable) serve the backward.
    """
    keep_u, keep_i, keep_b = _saves(x, flags, record, sg_kind)
    lib = _lib(x, flags, spike_kind, sg_kind)
    if lib is None:
        with torch.no_grad():
            out, u, isave, bsave, *rest = _torchloop.forward(
                x, v0, i0, b0, alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale, reset_const, flags,
                spike_kind, max_spikes, record
            )  # fmt: skip
        keep = lambda t, on: t if on else x.new_empty(0)  # noqa: E731
        return (out, keep(u, keep_u), keep(isave, keep_i), keep(bsave, keep_b), *rest)
    Args = _args(x)
    x, v0, i0, b0 = (t.contiguous() for t in (x, v0, i0, b0))
    B, T, N = x.shape
    full = lambda on: torch.empty_like(x) if on else x.new_empty(0)  # noqa: E731
    out, u, isave, bsave = full(True), full(keep_u), full(keep_i), full(keep_b)
    recv = torch.empty_like(x) if record else x.new_empty(0)
    vfin = torch.empty_like(v0)
    ifin = torch.empty_like(v0) if flags & F_SYN else x.new_empty(0)
    bfin = torch.empty_like(v0) if flags & F_ALIF else x.new_empty(0)
    a = Args(B=B, T=T, N=N, max_spikes=max_spikes, nthreads=torch.get_num_threads())
    _set_params(a, (alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale, reset_const))
    for name, t in (("x", x), ("v0", v0), ("i0", i0), ("b0", b0), ("out", out), ("u", u), ("isave", isave),
                    ("bsave", bsave), ("recv", recv), ("vfin", vfin), ("ifin", ifin), ("bfin", bfin)):  # fmt: skip
        setattr(a, name, _ptr(t))
    if lib.lif_forward(ctypes.byref(a)) != 0:
        raise RuntimeError("spikekit-kernels: the fused forward loop could not start its threads")
    return out, u, isave, bsave, recv, vfin, ifin, bfin


lif_forward = torch.library.custom_op("spikekit_kernels::lif_forward", mutates_args=())(_forward_impl)


@lif_forward.register_fake
def _(x, v0, i0, b0, alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale, reset_const, flags, spike_kind,
    max_spikes, record, sg_kind, *_):  # fmt: skip
    full = lambda on: torch.empty_like(x) if on else x.new_empty(0)  # noqa: E731
    state = lambda on: torch.empty_like(v0) if on else x.new_empty(0)  # noqa: E731
    syn, alif = bool(flags & F_SYN), bool(flags & F_ALIF)
    keep_u, keep_i, keep_b = _saves(x, flags, record, sg_kind)
    return full(True), full(keep_u), full(keep_i), full(keep_b), full(record), state(True), state(syn), state(alif)


# -------------------------------------------------------------------------------------------------- backward op
def _backward_impl(
    x: Tensor, u: Tensor, isave: Tensor, bsave: Tensor, v0: Tensor, i0: Tensor, b0: Tensor, alpha_mem: Tensor,
    alpha_syn: Tensor,
    threshold: Tensor, floor: Tensor, alpha_adapt: Tensor, adapt_scale: Tensor, reset_const: Tensor, g_out: Tensor,
    g_recv: Tensor | None,
    g_reci: Tensor | None, g_recb: Tensor | None, g_vfin: Tensor | None, g_ifin: Tensor | None,
    g_bfin: Tensor | None, sg: Tensor | None, flags: int, spike_kind: int, max_spikes: float, sg_kind: int,
    sg_params: list[float],
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """(dx, d v0, d i0, d b0, d α_m, d α_s, d α_a); the α gradients per neuron, shape (B, N)."""
    lib = _lib(x, flags, spike_kind, sg_kind)
    if lib is None:
        with torch.no_grad():
            if u.numel() == 0 and x.numel() != 0:  # the forward kept nothing per step: recompute it
                _o, u, isave, bsave, *_r = _torchloop.forward(
                    x, v0, i0, b0, alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale, reset_const,
                    flags, spike_kind, max_spikes, False
                )  # fmt: skip
            res = _torchloop.backward(x, u, isave, bsave, v0, i0, b0, alpha_mem, alpha_syn, threshold, floor,
                alpha_adapt, adapt_scale, reset_const, g_out, g_recv,
                                      g_reci, g_recb, g_vfin, g_ifin, g_bfin, sg, flags, spike_kind, max_spikes,
                                      sg_kind, sg_params)  # fmt: skip
        syn, alif = bool(flags & F_SYN), bool(flags & F_ALIF)
        B, N = x.shape[0], x.shape[2]
        own = lambda r, on: (  # noqa: E731  (own (B, N) storage, or empty when the flag is off, as the fake says)
            (r.expand(B, N).clone() if torch.is_tensor(r) else x.new_zeros(B, N)) if on else x.new_empty(0)
        )
        gx, gw, gi, gb, sam, sas, saa = res
        gx = gx.clone()
        _flush_subnormals(gx)  # as the compiled loop does when it stores the input gradient
        return (gx, own(gw, True), own(gi, syn), own(gb, alif), own(sam, True), own(sas, syn),
                own(saa, alif))  # fmt: skip
    Args = _args(x)
    c = lambda t: None if t is None else t.contiguous()  # noqa: E731
    B, T, N = x.shape
    syn, alif = bool(flags & F_SYN), bool(flags & F_ALIF)
    state = lambda on: x.new_empty(B, N) if on else x.new_empty(0)  # noqa: E731  (the kernel writes every entry)
    outs = [x.new_empty(B, T, N), state(True), state(syn), state(alif), state(True), state(syn), state(alif)]
    if g_out.dtype != x.dtype or g_out.device != x.device:
        g_out = g_out.to(x)
    # the output gradient keeps its strides (the kernel gathers rows that are not contiguous): the gradient of a
    # sum arrives as one expanded number and is never materialised
    gsb, gst, gsn = (g_out.stride(d) if g_out.size(d) > 1 else 0 for d in range(3))
    a = Args(B=B, T=T, N=N, gsb=gsb, gst=gst, gsn=gsn, max_spikes=max_spikes, nthreads=torch.get_num_threads())
    for j, p in enumerate(sg_params[:5]):
        a.sg_p[j] = p
    _set_params(a, (alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale, reset_const))
    keep: list[Tensor | None] = [c(t) for t in (x, u, isave, bsave, v0, i0, b0)]
    keep += [g_out, *(c(t) for t in (g_recv, g_reci, g_recb, g_vfin, g_ifin, g_bfin, sg))]
    names = ("x u isave bsave v0 i0 b0 g_out g_recv g_reci g_recb g_vfin g_ifin g_bfin sg "
             "gx gv0 gi0 gb0 g_alpha_mem g_alpha_syn g_alpha_adapt").split()  # fmt: skip
    for name, t in zip(names, [*keep, *outs]):
        setattr(a, name, _ptr(t))
    if lib.lif_backward(ctypes.byref(a)) != 0:
        raise RuntimeError("spikekit-kernels: the fused backward loop could not allocate its recomputation buffer")
    return tuple(outs)  # type: ignore[return-value]


lif_backward = torch.library.custom_op("spikekit_kernels::lif_backward", mutates_args=())(_backward_impl)


@lif_backward.register_fake
def _(x, u, isave, bsave, v0, i0, b0, alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale, reset_const,
    g_out, g_recv, g_reci, g_recb, g_vfin, g_ifin,
      g_bfin, sg, flags, *rest):  # fmt: skip
    syn, alif = bool(flags & F_SYN), bool(flags & F_ALIF)
    B, T, N = x.shape
    state = lambda on: x.new_empty(B, N) if on else x.new_empty(0)  # noqa: E731
    return x.new_empty(B, T, N), state(True), state(syn), state(alif), state(True), state(syn), state(alif)


# -------------------------------------------------------------------------------------------------- autograd
def _setup_context(ctx, inputs, output):
    (x, v0, i0, b0, alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale, reset_const, flags, spike_kind,
     max_spikes, record, sg_kind, sg_params, key) = inputs  # fmt: skip
    _out, u, isave, bsave, *_ = output
    ctx.save_for_backward(
        x, u, isave, bsave, v0, i0, b0, alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale, reset_const
    )
    ctx.set_materialize_grads(False)  # outputs nobody differentiates (u, ...) get None, not a full zero tensor
    ctx.cfg = (flags, spike_kind, max_spikes, sg_kind, list(sg_params), key)


def _surrogate_tensor(
    u: Tensor, bsave: Tensor, b0: Tensor, threshold: Tensor, adapt_scale: Tensor, flags: int, key: int
) -> Tensor:
    """ψ(u_t, θ_t) for all steps at once, with the registered surrogate callable."""
    fn = _surrogates[key]
    if flags & F_ALIF:
        b_prev = torch.cat([b0.unsqueeze(1), bsave[:, :-1]], dim=1)  # (B, T, N)
        th = threshold.unsqueeze(1) + adapt_scale.unsqueeze(1) * b_prev
    else:
        th = threshold.unsqueeze(1).expand_as(u)
    return fn(u, th).to(u.dtype)  # type: ignore[operator]


def _flush_subnormals(g: Tensor) -> None:
    """Set the input gradient's subnormal entries (below the dtype's smallest normal number, e.g. 1.2e-38 for
    float32) to zero, in place.

    A surrogate far from the threshold is about 1e-38 and times an output gradient below one it is subnormal: the
    next layer's backward (a conv's, say) then runs many times slower on CPUs without flush-to-zero (3 to 14 times
    for the conv SNN of the benchmark). Zeroing them changes each entry by less than 1.2e-38 (what a CPU in
    flush-to-zero mode would do), far below any tolerance of the gradient."""
    if g.device.type == "cpu" and g.is_floating_point() and g.numel():
        tiny = torch.finfo(g.dtype).tiny
        small = g.lt(tiny).logical_and_(g.gt(-tiny))  # byte masks only: no float temporary of the input's size
        g.masked_fill_(small, 0)


def _backward(ctx, g_out, _g_u, g_isave, g_bsave, g_recv, g_vfin, g_ifin, g_bfin):
    (x, u, isave, bsave, v0, i0, b0, alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale,
     reset_const) = ctx.saved_tensors  # fmt: skip
    flags, spike_kind, max_spikes, sg_kind, sg_params, key = ctx.cfg
    if g_out is None:  # no gradient reaches the spikes: one zero, expanded (never materialised)
        g_out = x.new_zeros(()).expand(x.shape)
    sg = None
    if sg_kind == SG_TENSOR and key != 0:
        sg = _surrogate_tensor(u, bsave, b0, threshold, adapt_scale, flags, key)
    empty = lambda g: None if g is None or g.numel() == 0 else g  # noqa: E731
    op = _backward_impl if _eager(x) else lif_backward
    gx, gv0, gi0, gb0, g_alpha_mem, g_alpha_syn, g_alpha_adapt = op(
        x, u, isave, bsave, v0, i0, b0, alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale, reset_const,
        g_out, empty(g_recv), empty(g_isave),
        empty(g_bsave), empty(g_vfin), empty(g_ifin), empty(g_bfin), sg, flags, spike_kind, max_spikes, sg_kind,
        sg_params,
    )  # fmt: skip
    syn, alif = bool(flags & F_SYN), bool(flags & F_ALIF)
    return (gx, gv0, gi0 if syn else None, gb0 if alif else None, g_alpha_mem, g_alpha_syn if syn else None, None, None,
            g_alpha_adapt if alif else None, None, None, None, None, None, None, None, None, None)  # fmt: skip


lif_forward.register_autograd(_backward, setup_context=_setup_context)


def _eager(x: Tensor) -> bool:
    """Whether ``x`` is a plain tensor outside of any tracing (torch.compile, export, fake tensors), where the op's
    implementation may run without going through the torch.library dispatcher."""
    return type(x) is Tensor and not torch.compiler.is_compiling()


class _EagerOp(torch.autograd.Function):
    """``lif_forward`` with the same autograd formula, called directly in eager mode: torch.library's dispatch of
    a custom op (argument defaults, redispatch through the autograd and CPU keys) cost about half a millisecond per
    layer per forward+backward. Traced code (torch.compile, export) keeps seeing the registered op."""

    @staticmethod
    def forward(ctx, *inputs):
        output = _forward_impl(*inputs)
        _setup_context(ctx, inputs, output)
        return output

    @staticmethod
    def backward(ctx, *grads):
        return _backward(ctx, *grads)


# -------------------------------------------------------------------------------------------------- the backend
def _neuron_order(x: Tensor) -> tuple[int, ...] | None:
    """The order of the neuron dimensions in which ``x`` (B, T, ...) is laid out densely, when that is not their
    own order (e.g. ``channels_last`` conv activations: (C, H, W) stored as (H, W, C)); None otherwise.

    The neurons are independent, so the loop may run them in any order: running them in the order they are stored
    reads and writes ``x`` without a copy, and the results (in the same layout) feed a ``channels_last`` conv or
    pool without one either."""
    if x.dim() < 4 or x.is_contiguous():
        return None
    lead = len(x.shape) - 2
    order = tuple(sorted(range(lead), key=lambda d: -x.stride(d + 2)))
    if order == tuple(range(lead)) or not x.permute(0, 1, *(d + 2 for d in order)).is_contiguous():
        return None
    return order


def _permuted(plan: Plan, state: Mapping[str, Tensor], order: tuple[int, ...]) -> tuple[Plan, dict[str, Tensor]]:
    """The plan and state with the neuron dimensions in ``order`` (views for broadcast parameters)."""
    B, trail = plan.B, plan.trail
    dims = (0, *(d + 1 for d in order))

    def move(t: Tensor) -> Tensor:
        return t.reshape(B, *trail).permute(dims).reshape(B, plan.N) if t.dim() == 2 else t

    new = dataclasses.replace(
        plan, trail=tuple(trail[d] for d in order), alpha_mem=move(plan.alpha_mem), alpha_syn=move(plan.alpha_syn),
        threshold=move(plan.threshold), floor=move(plan.floor), alpha_adapt=move(plan.alpha_adapt),
        adapt_scale=move(plan.adapt_scale), reset_const=move(plan.reset_const),
    )  # fmt: skip
    return new, {k: v.permute(dims) for k, v in state.items()}


def run_plan(x: Tensor, state: Mapping[str, Tensor], plan: Plan, record: bool) -> BackendResult:
    """Run a :class:`Plan` through the fused op and reshape the results to the layer's shapes."""
    order = _neuron_order(x)
    if order is not None:  # run the neurons in their storage order; hand the results back in the layer's order
        dims = (0, 1, *(d + 2 for d in order))
        inverse = tuple(sorted(range(len(dims)), key=lambda d: dims[d]))
        nplan, nstate = _permuted(plan, state, order)
        out, fin, permuted = run_plan(x.permute(dims), nstate, nplan, record)
        back = lambda t: t.permute(inverse[:1] + tuple(d - 1 for d in inverse[2:]))  # noqa: E731  (B, ...) states
        fin = {k: back(v).clone() for k, v in fin.items()}  # own storage in the layer's layout
        return out.permute(inverse), fin, {k: v.permute(inverse) for k, v in permuted.items()}
    B, T, N, trail = plan.B, plan.T, plan.N, plan.trail
    x3 = x.reshape(B, T, N)
    flat = lambda name: state[name].reshape(B, N) if name in state else plan.alpha_mem.new_zeros(())  # noqa: E731
    zero = x3.new_empty(0)  # an initial state the configuration does not have: never read
    v0 = flat("v_mem")
    i0 = state["i_syn"].reshape(B, N) if plan.flags & F_SYN else zero
    b0 = state["b"].reshape(B, N) if plan.flags & F_ALIF else zero
    key = 0
    if plan.sg_kind == SG_TENSOR and plan.surrogate is not None:
        key = _register_surrogate(plan.surrogate)
    op = _EagerOp.apply if _eager(x3) else lif_forward
    out, _u, isave, bsave, recv, vfin, ifin, bfin = op(
        x3, v0, i0, b0, plan.alpha_mem, plan.alpha_syn, plan.threshold, plan.floor, plan.alpha_adapt,
        plan.adapt_scale, plan.reset_const, plan.flags, plan.spike_kind, plan.max_spikes, record, plan.sg_kind,
        plan.sg_params, key,
    )  # fmt: skip
    shape_bt, shape_b = (B, T, *trail), (B, *trail)
    final: dict[str, Tensor] = {"v_mem": vfin.reshape(shape_b)}
    recs: dict[str, Tensor] = {}
    if record:
        recs["v_mem"] = recv.reshape(shape_bt)
    if plan.flags & F_SYN:
        final["i_syn"] = ifin.reshape(shape_b)
        if record:
            recs["i_syn"] = isave.reshape(shape_bt)
    if plan.flags & F_ALIF:
        final["b"] = bfin.reshape(shape_b)
        final["spike_threshold"] = (plan.threshold + plan.adapt_scale * bfin).reshape(shape_b)
        if record:
            recs["b"] = bsave.reshape(shape_bt)
            thr_rec = plan.threshold.unsqueeze(1) + plan.adapt_scale.unsqueeze(1) * bsave
            recs["spike_threshold"] = thr_rec.reshape(shape_bt)
    # same keys and order as given; own storage (not views), since layers detach_() their state in place
    final = {k: final[k].clone() if final[k]._base is not None else final[k] for k in state}
    recs = {k: recs[k] for k in state if k in recs}
    return out.reshape(shape_bt), final, recs


class FusedCPUBackend:
    """``fused-cpu``: the LIF family's time loop as one op with a hand-written BPTT backward (see module docstring).

    Covers IAF, LIF (with and without synapse, norm_input), ExpLeak and ALIF with MultiSpike / SingleSpike /
    MaxSpike, MembraneSubtract / MembraneReset, min_v_mem and every surrogate, in float32 and float64 on CPU.
    Gradients reach the input, the initial state and alpha_mem / alpha_syn / alpha_adapt (hence tau).
    """

    name = "fused-cpu"

    def __init__(self) -> None:
        # The plan made while answering unsupported_reason, kept for the run() that follows it with the same
        # input and NeuronParams objects (run_neuron makes one per forward), so each forward plans once.
        self._checked: tuple[Tensor, NeuronParams, Plan] | None = None

    def unsupported_reason(self, x: Tensor, state: Mapping[str, Tensor], params: NeuronParams) -> str | None:
        if x.device.type != "cpu":
            return f"input on {x.device}; fused-cpu runs on the CPU (use the 'triton' backend on CUDA)"
        if x.dtype not in (torch.float32, torch.float64):
            return f"dtype {x.dtype} on CPU (float32 and float64 are covered)"
        if not isinstance(params, NeuronParams):  # e.g. a StepModel: make_plan says why it is not covered
            declined = make_plan(x, state, params)
            return declined if isinstance(declined, str) else "not a NeuronParams"
        if x.numel() == 0:
            return None  # nothing to compute: run() hands it to the reference backend (identical results)
        plan = make_plan(x, state, params) if params.rec_connect is None else recurrent_plan(x, state, params)
        if isinstance(plan, str):
            return plan
        self._checked = (x, params, plan)
        return None

    def run(self, x: Tensor, state: Mapping[str, Tensor], params: NeuronParams) -> BackendResult:
        if x.numel() == 0:  # an empty batch (or no neurons): no loop to fuse; same shapes and graph as the reference
            return get_backend("torch").run(x, state, params)
        checked, self._checked = self._checked, None
        recurrent = params.rec_connect is not None
        plan: Plan | str
        if checked is not None and checked[0] is x and checked[1] is params:
            plan = checked[2]
        else:
            plan = recurrent_plan(x, state, params) if recurrent else make_plan(x, state, params)
        if isinstance(plan, str):
            raise ValueError(f"{params.layer_name}: fused-cpu cannot run this layer: {plan}")
        if recurrent:
            return run_recurrent(x, state, params, plan)
        return run_plan(x, state, plan, params.record_states)
