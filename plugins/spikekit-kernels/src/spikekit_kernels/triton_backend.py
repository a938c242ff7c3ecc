"""The ``triton`` backend: the fused time loop as Triton kernels for CUDA GPUs.

One program owns a block of ``BLOCK`` neurons (flattened over batch and neurons) and loops over all time steps,
keeping the state in registers: the forward reads ``x`` once and writes the output and the saved membrane ``u``
(plus ``i`` / ``b`` per step with a synapse / adaptation); the backward runs the reverse-time recursion of
:mod:`spikekit_kernels.op` (same equations, same recomputation of spikes and ``w_{t-1}`` from ``u``). Importing
this module registers the kernels as the ``"cuda"`` implementations of the fused op
(:func:`spikekit_kernels.op.register_device`), so autograd, ``torch.compile`` and ``torch.export`` behave as on the
CPU. Arithmetic is float32 (float64 stays float64); bf16 / fp16 inputs are upcast to float32 state and the output
is cast back. Triton is imported only when this module is imported, i.e. when the backend is first used.

Tested on CPU through Triton's interpreter (``TRITON_INTERPRET=1``) at small sizes; see docs/backends.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import triton
import triton.language as tl

from spikekit.compute import BackendResult, NeuronParams
from spikekit_kernels import op
from spikekit_kernels._plan import F_ALIF, F_SYN, make_plan
from spikekit_kernels.layout import run_plan
from spikekit_kernels.op_spec import BackwardArgs, ForwardArgs, params_of

__all__ = ["TritonBackend", "forward_launch", "backward_launch"]

BLOCK = 128


@triton.jit
def _spike(u, th, SPIKE_SINGLE: tl.constexpr, CLAMP: tl.constexpr, max_spikes):
    if SPIKE_SINGLE:
        s = tl.where(u - th >= 0, 1.0, 0.0).to(u.dtype)
    else:
        q = u / th
        q = tl.where(q >= 0, tl.floor(q), tl.ceil(q))  # trunc
        s = tl.where(u > 0, 1.0, 0.0).to(u.dtype) * q
        if CLAMP:
            s = tl.minimum(s, max_spikes)
    return s


@triton.jit
def _after(
    u, s, th, reset_const, floor, SPIKING: tl.constexpr, RESET: tl.constexpr, SUBVAL: tl.constexpr, FLOOR: tl.constexpr
):
    v = u
    if SPIKING:
        if RESET:
            silent = tl.where(s == 0, 1.0, 0.0).to(u.dtype)
            v = u * silent + (1 - silent) * reset_const
        else:
            if SUBVAL:
                v = u - s * reset_const
            else:
                v = u - s * th
    if FLOOR:
        v = tl.maximum(v - floor, 0.0) + floor
    return v


@triton.jit
def _load_params(k, mask, alpha_mem_p, alpha_syn_p, threshold_p, floor_p, alpha_adapt_p, adapt_scale_p,
                 reset_const_p):  # fmt: skip
    """A block's per-neuron parameters (``(B, N)`` each); lanes past the end read a threshold of 1, never 0."""
    alpha_mem = tl.load(alpha_mem_p + k, mask=mask, other=0.0)
    alpha_syn = tl.load(alpha_syn_p + k, mask=mask, other=0.0)
    threshold = tl.load(threshold_p + k, mask=mask, other=1.0)
    floor = tl.load(floor_p + k, mask=mask, other=0.0)
    alpha_adapt = tl.load(alpha_adapt_p + k, mask=mask, other=0.0)
    adapt_scale = tl.load(adapt_scale_p + k, mask=mask, other=0.0)
    reset_const = tl.load(reset_const_p + k, mask=mask, other=0.0)
    return alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale, reset_const


@triton.jit
def _forward_kernel(x, v0, i0, b0, alpha_mem_p, alpha_syn_p, threshold_p, floor_p, alpha_adapt_p, adapt_scale_p,
    reset_const_p, out, u_out, isave, bsave, recv, vfin,
                    ifin, bfin, T, N, BN, max_spikes, SYN: tl.constexpr, NORM: tl.constexpr, FLOOR: tl.constexpr,
                    ALIF: tl.constexpr, SPIKING: tl.constexpr, RESET: tl.constexpr, SUBVAL: tl.constexpr,
                    CLAMP: tl.constexpr, SPIKE_SINGLE: tl.constexpr, RECORD: tl.constexpr,
                    BLOCK: tl.constexpr):  # fmt: skip
    k = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = k < BN
    b = k // N
    n = k % N
    v = tl.load(v0 + k, mask=mask, other=0.0)
    i = tl.load(i0 + k, mask=mask, other=0.0)
    bb = tl.load(b0 + k, mask=mask, other=0.0)
    alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale, reset_const = _load_params(
        k, mask, alpha_mem_p, alpha_syn_p, threshold_p, floor_p, alpha_adapt_p, adapt_scale_p, reset_const_p
    )
    for t in range(T):
        e = (b * T + t) * N + n
        xt = tl.load(x + e, mask=mask, other=0.0).to(v.dtype)
        if SYN:
            i = alpha_syn * (i + xt)
        else:
            i = xt
        if NORM:
            drive = (1 - alpha_mem) * i
        else:
            drive = i
        u = alpha_mem * v + drive
        if ALIF:
            th = threshold + adapt_scale * bb
        else:
            th = threshold
        if SPIKING:
            s = _spike(u, th, SPIKE_SINGLE, CLAMP, max_spikes)
            tl.store(out + e, s.to(out.dtype.element_ty), mask=mask)
        else:
            s = u
            tl.store(out + e, u.to(out.dtype.element_ty), mask=mask)
        tl.store(u_out + e, u, mask=mask)
        v = _after(u, s, th, reset_const, floor, SPIKING, RESET, SUBVAL, FLOOR)
        if ALIF:
            bb = alpha_adapt * bb + (1 - alpha_adapt) * s
            tl.store(bsave + e, bb, mask=mask)
        if SYN:
            tl.store(isave + e, i, mask=mask)
        if RECORD:
            tl.store(recv + e, v, mask=mask)
    tl.store(vfin + k, v, mask=mask)
    if SYN:
        tl.store(ifin + k, i, mask=mask)
    if ALIF:
        tl.store(bfin + k, bb, mask=mask)


@triton.jit
def _surrogate(u, th, SG: tl.constexpr, p0, p1, p2, p3, p4):
    if SG == 1:  # SingleExponential
        w = th * p0
        r = p1 / w * tl.exp(-tl.abs(u - th) / w)
    elif SG == 2:  # Gaussian
        d = u - th - p0
        r = tl.exp(-(d * d) / (2 * p1 * p1)) / (p1 * 2.5066282746310002) * p2
    elif SG == 3:  # MultiGaussian
        x = u - th
        d0 = x - p0
        d1 = x - p1
        d2 = x + p1
        s2 = p3 * p1
        g0 = tl.exp(-(d0 * d0) / (2 * p1 * p1)) / (p1 * 2.5066282746310002)
        g1 = tl.exp(-(d1 * d1) / (2 * s2 * s2)) / (s2 * 2.5066282746310002)
        g2 = tl.exp(-(d2 * d2) / (2 * s2 * s2)) / (s2 * 2.5066282746310002)
        r = ((1 + p2) * g0 - p2 * g1 - p2 * g2) * p4
    elif SG == 4:  # Heaviside
        r = tl.where(u >= th - p0, 1.0, 0.0) / th
    else:  # PeriodicExponential
        vn = u / th - 0.5
        vp = th * (2 * (vn - tl.floor(vn)) - 1)
        z = tl.where(u < th, u - th, vp)
        r = p1 * tl.exp(-tl.abs(z) / p0)
    return r


@triton.jit
def _backward_kernel(x, u_p, isave, bsave, v0, i0, b0, alpha_mem_p, alpha_syn_p, threshold_p, floor_p, alpha_adapt_p,
    adapt_scale_p, reset_const_p, g_out, g_recv,
                     g_reci, g_recb, g_vfin, g_ifin, g_bfin, sg_p, gx, gv0, gi0, gb0, g_alpha_mem, g_alpha_syn,
                     g_alpha_adapt, T, N, BN,
                     max_spikes, p0, p1, p2, p3, p4, SYN: tl.constexpr, NORM: tl.constexpr, FLOOR: tl.constexpr,
                     ALIF: tl.constexpr, SPIKING: tl.constexpr, RESET: tl.constexpr, SUBVAL: tl.constexpr,
                     CLAMP: tl.constexpr, SPIKE_SINGLE: tl.constexpr, SG: tl.constexpr, HAS_RECV: tl.constexpr,
                     HAS_RECI: tl.constexpr, HAS_RECB: tl.constexpr, HAS_VFIN: tl.constexpr,
                     HAS_IFIN: tl.constexpr, HAS_BFIN: tl.constexpr, BLOCK: tl.constexpr):  # fmt: skip
    k = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = k < BN
    b = k // N
    n = k % N
    alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale, reset_const = _load_params(
        k, mask, alpha_mem_p, alpha_syn_p, threshold_p, floor_p, alpha_adapt_p, adapt_scale_p, reset_const_p
    )
    w0 = tl.load(v0 + k, mask=mask, other=0.0)
    zero = w0 * 0
    gw = zero
    gi = zero
    gb = zero
    if HAS_VFIN:
        gw = tl.load(g_vfin + k, mask=mask, other=0.0)
    if HAS_IFIN:
        gi = tl.load(g_ifin + k, mask=mask, other=0.0)
    if HAS_BFIN:
        gb = tl.load(g_bfin + k, mask=mask, other=0.0)
    sam = zero
    sas = zero
    saa = zero
    for tt in range(T):
        t = T - 1 - tt
        e = (b * T + t) * N + n
        ep = e - N
        tvec = k * 0 + t  # the step as a block tensor, so masks stay tensors (also in the interpreter)
        has_prev = mask & (tvec > 0)
        u = tl.load(u_p + e, mask=mask, other=0.0)
        bprev = zero
        if ALIF:
            bprev = tl.where(
                tvec > 0, tl.load(bsave + ep, mask=has_prev, other=0.0), tl.load(b0 + k, mask=mask, other=0.0)
            )
            th = threshold + adapt_scale * bprev
        else:
            th = threshold
        # w_{t-1}: recomputed from u_{t-1}
        up = tl.load(u_p + ep, mask=has_prev, other=0.0)
        if ALIF:
            bpp = tl.where(tvec > 1, tl.load(bsave + ep - N, mask=mask & (tvec > 1), other=0.0),
                           tl.load(b0 + k, mask=mask, other=0.0))  # fmt: skip
            thp = threshold + adapt_scale * bpp
        else:
            thp = threshold
        if SPIKING:
            sp = _spike(up, thp, SPIKE_SINGLE, CLAMP, max_spikes)
        else:
            sp = up
        wprev = tl.where(tvec > 0, _after(up, sp, thp, reset_const, floor, SPIKING, RESET, SUBVAL, FLOOR), w0)
        gwt = gw
        if HAS_RECV:
            gwt = gwt + tl.load(g_recv + e, mask=mask, other=0.0)
        if SPIKING:
            s = _spike(u, th, SPIKE_SINGLE, CLAMP, max_spikes)
        else:
            s = u
        gv = gwt
        if FLOOR:
            vpre = _after(u, s, th, reset_const, floor, SPIKING, RESET, SUBVAL, False)
            gv = tl.where(vpre - floor > 0, gwt, 0.0)
        go = tl.load(g_out + e, mask=mask, other=0.0).to(u.dtype)
        if SPIKING:
            gs = go
            gth = zero
            if RESET:
                gu = gv * tl.where(s == 0, 1.0, 0.0)
            else:
                gu = gv
                if SUBVAL:
                    gs = gs - gv * reset_const
                else:
                    gs = gs - gv * th
                    gth = -gv * s
            if ALIF:
                gbt = gb
                if HAS_RECB:
                    gbt = gbt + tl.load(g_recb + e, mask=mask, other=0.0)
                gs = gs + (1 - alpha_adapt) * gbt
                saa = saa + gbt * (bprev - s)
                gb = alpha_adapt * gbt + adapt_scale * gth
            if SG == 0:
                sg = tl.load(sg_p + e, mask=mask, other=0.0)
            else:
                sg = _surrogate(u, th, SG, p0, p1, p2, p3, p4)
            gu = gu + gs * sg
        else:
            gu = gv + go
        gw = alpha_mem * gu
        if SYN:
            i = tl.load(isave + e, mask=mask, other=0.0)
        else:
            i = tl.load(x + e, mask=mask, other=0.0).to(u.dtype)
        if NORM:
            sam = sam + gu * (wprev - i)
            gdrive = (1 - alpha_mem) * gu
        else:
            sam = sam + gu * wprev
            gdrive = gu
        if SYN:
            git = gi + gdrive
            if HAS_RECI:
                git = git + tl.load(g_reci + e, mask=mask, other=0.0)
            iprev = tl.where(
                tvec > 0, tl.load(isave + ep, mask=has_prev, other=0.0), tl.load(i0 + k, mask=mask, other=0.0)
            )
            xt = tl.load(x + e, mask=mask, other=0.0).to(u.dtype)
            tl.store(gx + e, (alpha_syn * git).to(gx.dtype.element_ty), mask=mask)
            sas = sas + git * (iprev + xt)
            gi = alpha_syn * git
        else:
            tl.store(gx + e, gdrive.to(gx.dtype.element_ty), mask=mask)
    tl.store(gv0 + k, gw, mask=mask)
    tl.store(g_alpha_mem + k, sam, mask=mask)
    if SYN:
        tl.store(gi0 + k, gi, mask=mask)
        tl.store(g_alpha_syn + k, sas, mask=mask)
    if ALIF:
        tl.store(gb0 + k, gb, mask=mask)
        tl.store(g_alpha_adapt + k, saa, mask=mask)


def _consts(flags: int, spike_kind: int) -> dict[str, bool]:
    from spikekit_kernels import _plan as p

    return dict(SYN=bool(flags & p.F_SYN), NORM=bool(flags & p.F_NORM), FLOOR=bool(flags & p.F_FLOOR),
                ALIF=bool(flags & p.F_ALIF), SPIKING=bool(flags & p.F_SPIKING), RESET=bool(flags & p.F_RESET),
                SUBVAL=bool(flags & p.F_SUBVAL), CLAMP=bool(flags & p.F_MAXCLAMP),
                SPIKE_SINGLE=spike_kind == p.SPK_SINGLE)  # fmt: skip


def _state_or_zeros(t: torch.Tensor, v0: torch.Tensor) -> torch.Tensor:
    """The kernels load every initial state: an absent one (empty) becomes zeros of the state's shape."""
    return t if t.numel() else torch.zeros_like(v0)


def forward_launch(*args: object) -> tuple[torch.Tensor, ...]:
    """Runs the forward kernel; arguments and results as :mod:`spikekit_kernels.op_spec` declares them."""
    a = ForwardArgs(*args)
    x, v0, flags, spike_kind, max_spikes, record = a.x, a.v0, a.flags, a.spike_kind, a.max_spikes, a.record
    alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale, reset_const = params_of(a)
    i0, b0 = a.i0, a.b0
    x = x.contiguous()
    st = v0.dtype
    B, T, N = x.shape
    i0, b0 = _state_or_zeros(i0, v0), _state_or_zeros(b0, v0)
    tensors = [
        t.contiguous().to(st)
        for t in (v0, i0, b0, alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale, reset_const)
    ]
    full = lambda on, dt=st: x.new_empty(x.shape, dtype=dt) if on else x.new_empty(0, dtype=dt)  # noqa: E731
    syn, alif = bool(flags & F_SYN), bool(flags & F_ALIF)
    out, u, isave, bsave, recv = full(True, x.dtype), full(True), full(syn), full(alif), full(record)
    vfin = torch.empty_like(tensors[0])
    ifin = torch.empty_like(tensors[0]) if syn else x.new_empty(0, dtype=st)
    bfin = torch.empty_like(tensors[0]) if alif else x.new_empty(0, dtype=st)
    dummy = u  # any valid pointer for the outputs a configuration does not write
    grid = (triton.cdiv(B * N, BLOCK),)
    _forward_kernel[grid](x, *tensors, out, u, isave if syn else dummy, bsave if alif else dummy,
                          recv if record else dummy, vfin, ifin if syn else dummy, bfin if alif else dummy, T, N,
                          B * N, float(max_spikes), RECORD=bool(record), BLOCK=BLOCK, **_consts(flags,
                          spike_kind))  # fmt: skip
    return out, u, isave, bsave, recv, vfin, ifin, bfin


def backward_launch(*args: object) -> tuple[torch.Tensor, ...]:
    """Runs the backward kernel; arguments and results as :mod:`spikekit_kernels.op_spec` declares them."""
    a = BackwardArgs(*args)
    x, u, isave, bsave, v0, i0, b0 = a.x, a.u, a.isave, a.bsave, a.v0, a.i0, a.b0
    alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale, reset_const = params_of(a)
    g_out, g_recv, g_reci, g_recb, g_vfin, g_ifin, g_bfin = (
        a.g_out,
        a.g_recv,
        a.g_reci,
        a.g_recb,
        a.g_vfin,
        a.g_ifin,
        a.g_bfin,
    )
    sg, flags, spike_kind, max_spikes, sg_kind, sg_params = (
        a.sg,
        a.flags,
        a.spike_kind,
        a.max_spikes,
        a.sg_kind,
        a.sg_params,
    )
    B, T, N = x.shape
    st = u.dtype
    i0, b0 = _state_or_zeros(i0, v0), _state_or_zeros(b0, v0)
    c = lambda t: t.contiguous() if t is not None else u  # noqa: E731
    outs = [torch.empty(x.shape, dtype=x.dtype, device=x.device)] + [torch.zeros_like(v0) for _ in range(6)]
    p = [float(v) for v in [*sg_params, 0, 0, 0, 0, 0][:5]]
    _backward_kernel[(triton.cdiv(B * N, BLOCK),)](
        x.contiguous(), u, c(isave if isave.numel() else None), c(bsave if bsave.numel() else None),
        *[t.contiguous().to(st) for t in (v0, i0, b0, alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale,
        reset_const)], g_out.contiguous(),
        c(g_recv), c(g_reci), c(g_recb), c(g_vfin), c(g_ifin), c(g_bfin), c(sg), *outs, T, N, B * N,
        float(max_spikes), *p, SG=int(sg_kind), HAS_RECV=g_recv is not None, HAS_RECI=g_reci is not None,
        HAS_RECB=g_recb is not None, HAS_VFIN=g_vfin is not None, HAS_IFIN=g_ifin is not None,
        HAS_BFIN=g_bfin is not None, BLOCK=BLOCK, **_consts(flags, spike_kind),
    )  # fmt: skip
    # the op's contract (its fake): gradients of states and decay factors a configuration lacks are empty
    syn, alif = bool(flags & F_SYN), bool(flags & F_ALIF)
    none = x.new_empty(0)
    return (outs[0], outs[1], outs[2] if syn else none, outs[3] if alif else none, outs[4], outs[5] if syn else none,
            outs[6] if alif else none)  # fmt: skip


op.register_device("cuda", forward_launch, backward_launch)


class TritonBackend:
    """``triton``: the fused loop on CUDA GPUs (same coverage and exactness contract as ``fused-cpu``)."""

    name = "triton"

    def unsupported_reason(
        self, x: torch.Tensor, state: Mapping[str, torch.Tensor], params: NeuronParams
    ) -> str | None:
        if x.device.type != "cuda":
            return f"input on {x.device}; the triton backend runs on CUDA devices"
        if x.dtype not in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
            return f"dtype {x.dtype}"
        if x.dtype in (torch.float16, torch.bfloat16) and any(v.dtype != torch.float32 for v in state.values()):
            return "half-precision input needs float32 state"
        plan = make_plan(x.float() if x.dtype in (torch.float16, torch.bfloat16) else x, state, params)
        return plan if isinstance(plan, str) else None

    def run(self, x: torch.Tensor, state: Mapping[str, torch.Tensor], params: NeuronParams) -> BackendResult:
        half = x.dtype in (torch.float16, torch.bfloat16)
        plan = make_plan(x.float() if half else x, state, params)
        if isinstance(plan, str):
            raise ValueError(f"{params.layer_name}: triton cannot run this layer: {plan}")
        out, final, rec = run_plan(x.float() if half else x, state, plan, params.record_states)
        return (out.to(x.dtype) if half else out), final, rec
