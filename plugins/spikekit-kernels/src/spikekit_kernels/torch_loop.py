"""The fused time loop written with torch ops on whole ``(B, N)`` slices: the op's device-neutral implementation
(:func:`run_forward`, :func:`run_backward`), used where no device kernel is registered and on the CPU when no C
compiler is found. Same arithmetic as ``lif_kernels.c`` (and as the reference backend), without autograd
bookkeeping: it runs under ``torch.no_grad`` inside the custom op."""

from __future__ import annotations

import math

import torch

from spikekit_kernels._plan import (
    F_ALIF,
    F_FLOOR,
    F_MAXCLAMP,
    F_NORM,
    F_RESET,
    F_SPIKING,
    F_SUBVAL,
    F_SYN,
    SG_GAUSS,
    SG_HEAVISIDE,
    SG_MULTI_GAUSS,
    SG_PERIODIC_EXP,
    SG_SINGLE_EXP,
    SPK_SINGLE,
)
from spikekit_kernels.op_spec import BackwardArgs, ForwardArgs, params_of, saves

__all__ = ["forward", "backward", "run_forward", "run_backward", "closed_form_surrogate", "flush_subnormals"]

Tensor = torch.Tensor


def spike(u: Tensor, th: Tensor, flags: int, kind: int, max_spikes: float) -> Tensor:
    if kind == SPK_SINGLE:
        return (u - th >= 0).to(u.dtype)
    s = (u > 0) * torch.div(u, th, rounding_mode="trunc")
    if flags & F_MAXCLAMP:
        s = torch.clamp(s, max=max_spikes)
    return s.to(u.dtype)


def after_spike(u: Tensor, s: Tensor, th: Tensor, flags: int, reset_const: Tensor, floor: Tensor) -> Tensor:
    v = u
    if flags & F_SPIKING:
        if flags & F_RESET:
            silent = (s == 0).to(u.dtype)
            v = u * silent + (1 - silent) * reset_const
        else:
            v = u - s * (reset_const if flags & F_SUBVAL else th)
    if flags & F_FLOOR:
        v = torch.relu(v - floor) + floor
    return v


def _gauss(x: Tensor, mu: float, sigma: float) -> Tensor:
    return torch.exp(-((x - mu) ** 2) / (2 * sigma * sigma)) / (sigma * math.sqrt(2 * math.pi))


def closed_form_surrogate(kind: int, p: list[float], u: Tensor, th: Tensor) -> Tensor:
    """The in-kernel surrogate closed forms, written with torch (used by the torch loop and the Triton tests)."""
    if kind == SG_SINGLE_EXP:
        w = th * p[0]
        return p[1] / w * torch.exp(-torch.abs(u - th) / w)
    if kind == SG_GAUSS:
        return _gauss(u - th, p[0], p[1]) * p[2]
    if kind == SG_MULTI_GAUSS:
        x = u - th
        return (
            (1 + p[2]) * _gauss(x, p[0], p[1])
            - p[2] * _gauss(x, p[1], p[3] * p[1])
            - p[2] * _gauss(x, -p[1], p[3] * p[1])
        ) * p[4]
    if kind == SG_HEAVISIDE:
        return (u >= th - p[0]).to(u.dtype) / th
    if kind == SG_PERIODIC_EXP:
        vn = u / th - 0.5
        vp = th * (2 * (vn - torch.floor(vn)) - 1)
        z = torch.where(u < th, u - th, vp)
        return p[1] * torch.exp(-torch.abs(z) / p[0])
    raise ValueError(f"no closed form for surrogate kind {kind}")


def forward(x, v0, i0, b0, alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale, reset_const, flags,
    spike_kind, max_spikes, record):  # fmt: skip
    B, T, N = x.shape
    out = torch.empty_like(x)
    u_all = torch.empty_like(x)
    isave = torch.empty_like(x) if flags & F_SYN else x.new_empty(0)
    bsave = torch.empty_like(x) if flags & F_ALIF else x.new_empty(0)
    recv = torch.empty_like(x) if record else x.new_empty(0)
    v, i, b = v0, i0, b0
    one_m = 1 - alpha_mem
    for t in range(T):
        xt = x[:, t]
        i = alpha_syn * (i + xt) if flags & F_SYN else xt
        drive = one_m * i if flags & F_NORM else i
        u = alpha_mem * v + drive
        th = threshold + adapt_scale * b if flags & F_ALIF else threshold
        if flags & F_SPIKING:
            s = spike(u, th, flags, spike_kind, max_spikes)
            out[:, t] = s
        else:
            s = u
            out[:, t] = u
        u_all[:, t] = u
        v = after_spike(u, s, th, flags, reset_const, floor)
        if flags & F_ALIF:
            b = alpha_adapt * b + (1 - alpha_adapt) * s
            bsave[:, t] = b
        if flags & F_SYN:
            isave[:, t] = i
        if record:
            recv[:, t] = v
    ifin = i.clone() if flags & F_SYN else x.new_empty(0)
    bfin = b.clone() if flags & F_ALIF else x.new_empty(0)
    return out, u_all, isave, bsave, recv, v.clone(), ifin, bfin


def backward(x, u_all, isave, bsave, v0, i0, b0, alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale,
    reset_const, g_out, g_recv, g_reci, g_recb,
             g_vfin, g_ifin, g_bfin, sg_all, flags, spike_kind, max_spikes, sg_kind, sg_params):  # fmt: skip
    B, T, N = x.shape
    zero = torch.zeros_like(v0)
    gw = g_vfin if g_vfin is not None else zero
    gi = g_ifin if (g_ifin is not None and flags & F_SYN) else zero
    gb = g_bfin if (g_bfin is not None and flags & F_ALIF) else zero
    sam, sas, saa = zero, zero, zero
    gx = torch.empty_like(x)
    spiking = bool(flags & F_SPIKING)

    def thr_at(t: int) -> Tensor:  # threshold used at step t
        if flags & F_ALIF:
            return threshold + adapt_scale * (bsave[:, t - 1] if t > 0 else b0)
        return threshold

    for t in range(T - 1, -1, -1):
        u = u_all[:, t]
        th = thr_at(t)
        if t > 0:
            up, thp = u_all[:, t - 1], thr_at(t - 1)
            sp = spike(up, thp, flags, spike_kind, max_spikes) if spiking else up
            wprev = after_spike(up, sp, thp, flags, reset_const, floor)
        else:
            wprev = v0
        gwt = gw + g_recv[:, t] if g_recv is not None else gw
        s = spike(u, th, flags, spike_kind, max_spikes) if spiking else u
        gv = gwt
        if flags & F_FLOOR:
            v = after_spike(u, s, th, flags & ~F_FLOOR, reset_const, floor)
            gv = torch.where(v - floor > 0, gwt, torch.zeros_like(gwt))
        if spiking:
            gs = g_out[:, t]
            gth = None
            if flags & F_RESET:
                gu = gv * (s == 0).to(u.dtype)
            else:
                gu = gv
                if flags & F_SUBVAL:
                    gs = gs - gv * reset_const
                else:
                    gs = gs - gv * th
                    gth = -gv * s
            if flags & F_ALIF:
                bprev = bsave[:, t - 1] if t > 0 else b0
                gbt = gb + g_recb[:, t] if g_recb is not None else gb
                gs = gs + (1 - alpha_adapt) * gbt
                saa = saa + gbt * (bprev - s)
                gb = alpha_adapt * gbt + (adapt_scale * gth if gth is not None else 0)
            sg = sg_all[:, t] if sg_all is not None else closed_form_surrogate(sg_kind, sg_params, u, th)
            gu = gu + gs * sg
        else:
            gu = gv + g_out[:, t]
        gw = alpha_mem * gu
        i = isave[:, t] if flags & F_SYN else x[:, t]
        if flags & F_NORM:
            sam = sam + gu * (wprev - i)
            gdrive = (1 - alpha_mem) * gu
        else:
            sam = sam + gu * wprev
            gdrive = gu
        if flags & F_SYN:
            git = gi + gdrive + (g_reci[:, t] if g_reci is not None else 0)
            iprev = isave[:, t - 1] if t > 0 else i0
            gx[:, t] = alpha_syn * git
            sas = sas + git * (iprev + x[:, t])
            gi = alpha_syn * git
        else:
            gx[:, t] = gdrive
    return gx, gw, gi, gb, sam, sas, saa


def flush_subnormals(g: Tensor) -> None:
    """Set the input gradient's subnormal entries (below the dtype's smallest normal number, e.g. 1.2e-38 for
    float32) to zero, in place, as the compiled loop does when it stores them.

    A surrogate far from the threshold is about 1e-38 and times an output gradient below one it is subnormal: the
    next layer's backward (a conv's, say) then runs many times slower on CPUs without flush-to-zero (3 to 14 times
    for the conv SNN of the benchmark). Zeroing them changes each entry by less than 1.2e-38 (what a CPU in
    flush-to-zero mode would do), far below any tolerance of the gradient."""
    if g.device.type == "cpu" and g.is_floating_point() and g.numel():
        tiny = torch.finfo(g.dtype).tiny
        small = g.lt(tiny).logical_and_(g.gt(-tiny))  # byte masks only: no float temporary of the input's size
        g.masked_fill_(small, 0)


def run_forward(*args: object) -> tuple[Tensor, ...]:
    """``lif_forward`` (arguments and results as :mod:`spikekit_kernels.op_spec` declares them) with torch ops."""
    a = ForwardArgs(*args)
    keep_u, keep_i, keep_b = saves(a.x, a.flags, a.record, a.sg_kind)
    with torch.no_grad():
        out, u, isave, bsave, *rest = forward(a.x, a.v0, a.i0, a.b0, *params_of(a), a.flags, a.spike_kind,
                                              a.max_spikes, a.record)  # fmt: skip
    keep = lambda t, on: t if on else a.x.new_empty(0)  # noqa: E731
    return (out, keep(u, keep_u), keep(isave, keep_i), keep(bsave, keep_b), *rest)


def run_backward(*args: object) -> tuple[Tensor, ...]:
    """``lif_backward`` with torch ops; recomputes the forward's steps when the forward kept none."""
    a = BackwardArgs(*args)
    x, u, isave, bsave = a.x, a.u, a.isave, a.bsave
    with torch.no_grad():
        if u.numel() == 0 and x.numel() != 0:  # the forward kept nothing per step: recompute it
            _o, u, isave, bsave, *_r = forward(x, a.v0, a.i0, a.b0, *params_of(a), a.flags, a.spike_kind,
                                               a.max_spikes, False)  # fmt: skip
        res = backward(x, u, isave, bsave, a.v0, a.i0, a.b0, *params_of(a), a.g_out, a.g_recv, a.g_reci, a.g_recb,
                       a.g_vfin, a.g_ifin, a.g_bfin, a.sg, a.flags, a.spike_kind, a.max_spikes, a.sg_kind,
                       a.sg_params)  # fmt: skip
    syn, alif = bool(a.flags & F_SYN), bool(a.flags & F_ALIF)
    B, N = x.shape[0], x.shape[2]

    def own(r: object, on: bool) -> Tensor:  # own (B, N) storage, or empty when the flag is off (as the fake says)
        if not on:
            return x.new_empty(0)
        return r.expand(B, N).clone() if isinstance(r, Tensor) else x.new_zeros(B, N)

    gx, gw, gi, gb, sam, sas, saa = res
    gx = gx.clone()
    flush_subnormals(gx)
    return gx, own(gw, True), own(gi, syn), own(gb, alif), own(sam, True), own(sas, syn), own(saa, alif)
