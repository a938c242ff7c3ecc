r"""Recurrent layers (``rec_connect``) on ``fused-cpu``: each step's neuron update in C; for a plain ``nn.Linear`` the
whole time loop, products included, in one compiled call.

The reference backend computes, per step, ``x'_t = x_t + r_t`` with ``r_t = rec_connect(s_{t-1})`` (``r_0 = 0``,
and ``rec_connect`` is called after the last step too) and then one neuron step. Here each step is one call of the
compiled loop with ``T = 1`` for all ``(B, N)`` neurons, which adds ``r_t`` to ``x_t`` itself (the same IEEE sum as
torch's ``x_t + r_t``, ``r_0`` a zero tensor as in the reference) and runs the same code and arithmetic as the fused
forward, so spikes stay bitwise equal. For a plain ``nn.Linear`` from the neurons to themselves that no hook watches,
``r_{t+1}`` is the op ``nn.Linear`` calls on a 2-D input (``mm``, or ``addmm`` with its bias), written into one
preallocated ``(B, N)`` buffer: the same bits, no module call, no allocation per step, and no product after the last
step (a plain linear map draws nothing, so skipping it changes nothing). Where torch's BLAS passes the probe of
:mod:`spikekit_kernels.torch_blas`, that loop, forward and backward, runs entirely in C (``lif_recurrent_forward`` /
``lif_recurrent_backward``), each step's product taken by the BLAS function torch calls or from the spikes in the
BLAS's summation order (the same bits either way); otherwise it runs in Python with torch's products. Any other
module is called as the reference calls it, on the same spikes in the same shape, after the last step too.

Backward: a custom autograd function walks the steps backwards. Step ``t``'s compiled backward (``T = 1``, with the
saved ``x'_t`` as its input and ``w_{t-1}``, ``i_{t-1}``, ``b_{t-1}`` as its "initial" state; it recomputes ``u_t``
from them, so ``u`` is not kept) gives ``∂L/∂x'_t``, which is both ``∂L/∂x_t`` and ``∂L/∂r_t``, and adds the
step's share of the decay factors' gradients to one ``(B, N)`` sum. The gradient reaching ``s_{t-1}`` through
``rec_connect`` is its vector-Jacobian product at ``∂L/∂r_t``, added to the output gradient of step ``t - 1``
before that step runs. For the plain ``nn.Linear`` it is one matrix product into a preallocated buffer
(``∂L/∂r_t · W``) and the weight gradient is one product over all steps at the end; any other module keeps the graph
of each step's call (so a stochastic module is differentiated at the numbers it drew) and is differentiated with
``torch.autograd.grad``. Without autograd (inference) only the spikes, and the recordings asked for, are kept.

Buffers are time-major ``(T, B, N)`` with each step's slice aligned to 64 bytes, so a step is a contiguous
``(B, N)`` block that the compiled loop reads with ``T = 1`` and ``rec_connect`` receives like the reference's.
"""

from __future__ import annotations

import ctypes
import dataclasses
from collections.abc import Mapping

import torch
from torch import nn

from spikekit.compute import BackendResult, NeuronParams
from spikekit_kernels import c_abi, c_loops, torch_blas
from spikekit_kernels._plan import F_ALIF, F_SYN, SG_TENSOR, Plan, make_plan

__all__ = ["recurrent_plan", "run_recurrent"]

Tensor = torch.Tensor
_ALIGN = 16  # elements of float32 per 64 bytes


def recurrent_plan(x: Tensor, state: Mapping[str, Tensor], params: NeuronParams) -> Plan | str:
    """The plan of the layer without its recurrent connection, or why the recurrent layer is not covered."""
    if not c_loops.use_c(x):
        return "recurrent layers on fused-cpu need the compiled loop (no C compiler, or it is disabled)"
    plan = make_plan(x, state, dataclasses.replace(params, rec_connect=None))
    if isinstance(plan, str):
        return plan
    if plan.sg_kind == SG_TENSOR:
        return "recurrent layers on fused-cpu need a closed-form surrogate gradient (one of spikekit.activation's)"
    return plan


class _Steps:
    """Time-major ``(T, B, N)`` buffers whose per-step slices start on a 64-byte boundary."""

    def __init__(self, like: Tensor, T: int, B: int, N: int) -> None:
        self.T, self.B, self.N = T, B, N
        self.stride = -(-(B * N) // _ALIGN) * _ALIGN
        self.like = like

    def new(self, on: bool = True) -> Tensor:
        if not on:
            return self.like.new_empty(0)
        return self.like.new_empty(max(self.T, 1), self.stride)

    def step(self, buf: Tensor, t: int) -> Tensor:
        return buf[t, : self.B * self.N].view(self.B, self.N)

    def views(self, buf: Tensor, *trail: int) -> tuple[Tensor, ...]:
        """Every step's slice at once, ``(B, *trail)`` each (one op, not one per step)."""
        return buf[: self.T, : self.B * self.N].view(self.T, self.B, *(trail or (self.N,))).unbind(0)

    def ptrs(self, buf: Tensor | None) -> tuple[int, int]:
        """(address of step 0, bytes from one step to the next); (0, 0) for a buffer that is not there."""
        if buf is None or buf.numel() == 0:
            return 0, 0
        return buf.data_ptr(), self.stride * buf.element_size()

    def batch_major(self, buf: Tensor) -> Tensor:
        return buf[: self.T, : self.B * self.N].view(self.T, self.B, self.N).transpose(0, 1).contiguous()

    def batch_view(self, buf: Tensor) -> Tensor:
        """(B, T, N) as a transposed view when the steps are not padded (a gradient need not be contiguous)."""
        if self.stride != self.B * self.N:
            return self.batch_major(buf)
        return buf[: self.T].view(self.T, self.B, self.N).transpose(0, 1)

    def time_major(self, g: Tensor | None) -> Tensor | None:
        """An incoming (B, T, N) gradient as aligned time-major steps, or None."""
        if g is None:
            return None
        buf = self.new()
        buf[: self.T, : self.B * self.N].view(self.T, self.B, self.N).copy_(g.transpose(0, 1))
        return buf


def _args(lib_args: type, plan: Plan, B: int, N: int) -> ctypes.Structure:
    # one step of B x N neurons: a single thread unless a step is large enough to pay for starting threads
    nthreads = torch.get_num_threads() if B * N >= (1 << 17) else 1
    a = lib_args(B=B, T=1, N=N, max_spikes=plan.max_spikes, nthreads=nthreads)
    c_loops.set_params(a, (plan.alpha_mem, plan.alpha_syn, plan.threshold, plan.floor, plan.alpha_adapt,
                          plan.adapt_scale, plan.reset_const))  # fmt: skip
    return a


def _linear(rec: nn.Module, x: Tensor, plan: Plan) -> nn.Linear | None:
    """``rec`` when it is a plain ``nn.Linear`` from the N neurons to themselves, in x's dtype and device, that no
    hook watches: its product is then taken with the op ``nn.Linear`` calls on a 2-D input (``mm``, or ``addmm`` with
    a bias; the same bits), written into a preallocated buffer. Anything else is called as the module it is."""
    if type(rec) is not nn.Linear or type(rec.weight) is not nn.Parameter or len(plan.trail) != 1:
        return None
    w = rec.weight
    if w.shape != (plan.N, plan.N) or w.dtype != x.dtype or w.device != x.device:
        return None
    if rec.bias is not None and (type(rec.bias) is not nn.Parameter or rec.bias.dtype != x.dtype):
        return None
    from torch.nn.modules import module as m

    hooks = (rec._forward_hooks, rec._forward_pre_hooks, rec._backward_hooks, rec._backward_pre_hooks,
             m._global_forward_hooks, m._global_forward_pre_hooks, m._global_backward_hooks,
             m._global_backward_pre_hooks)  # fmt: skip
    return None if any(hooks) else rec


def _product(linear: nn.Linear, s: Tensor, out: Tensor) -> None:
    """``out = linear(s)`` as ``F.linear`` computes it for a 2-D input (``s Wᵀ``, or ``addmm(b, s, Wᵀ)``)."""
    w = linear.weight.detach()
    if linear.bias is None:
        torch.mm(s, w.t(), out=out)
    else:
        torch.addmm(linear.bias.detach(), s, w.t(), out=out)


class _RecurrentLoop(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, i0, b0, alpha_mem, alpha_syn, threshold, floor, alpha_adapt, adapt_scale, reset_const,
                plan, rec, linear, record, grad, *rec_params):  # fmt: skip
        B, T, N = x.shape
        x = x.contiguous()
        syn, alif = bool(plan.flags & F_SYN), bool(plan.flags & F_ALIF)
        lib = c_loops.lib_for(x, plan.flags, plan.spike_kind, plan.sg_kind)
        steps = _Steps(x, T, B, N)
        # per step: spikes; for the backward x + r, the carried membrane w and i, b (u is recomputed from them)
        XP, S, W = steps.new(grad), steps.new(), steps.new(grad or record)
        IS, Bs = steps.new(syn and (grad or record)), steps.new(alif and (grad or record))
        own = lambda t: x.new_empty(B, *plan.trail).copy_(t.view(B, *plan.trail))  # noqa: E731  (not a view)
        v = own(v0)
        i = own(i0) if syn else x.new_empty(0)
        b = own(b0) if alif else x.new_empty(0)
        a = _args(c_loops.args_for(x), plan, B, N)
        a.v0 = a.vfin = c_loops.ptr(v)
        a.i0 = a.ifin = c_loops.ptr(i)
        a.b0 = a.bfin = c_loops.ptr(b)
        a.xsb = T * N
        gemm = _gemm(linear, B)
        if gemm is not None:  # the whole loop, products included, in one compiled call
            graphs: list[tuple[Tensor, Tensor]] = []
            _compiled_forward(lib, a, x, steps, (XP, S, W, IS, Bs), linear, gemm)
        else:
            graphs = _run_steps(lib, a, x, steps, (XP, S, W, IS, Bs), plan, rec, linear, grad and linear is None)
        ctx.plan, ctx.rec, ctx.linear, ctx.steps, ctx.graphs, ctx.gemm = plan, rec, linear, steps, graphs, gemm
        ctx.nparams = len(rec_params)
        ctx.rec_params = list(rec_params)
        ctx.save_for_backward(XP, S, W, IS, Bs, v0, i0, b0, alpha_mem, alpha_syn, threshold, floor, alpha_adapt,
                              adapt_scale, reset_const)  # fmt: skip
        out = steps.batch_major(S).view(B, T, *plan.trail)
        recv = steps.batch_major(W) if record else x.new_empty(0)
        reci = steps.batch_major(IS) if (record and syn) else x.new_empty(0)
        recb = steps.batch_major(Bs) if (record and alif) else x.new_empty(0)
        ctx.set_materialize_grads(False)
        return out, recv, reci, recb, v, i, b

    @staticmethod
    def backward(ctx, g_out, g_recv, g_reci, g_recb, g_vfin, g_ifin, g_bfin):
        XP, S, W, IS, Bs, v0, i0, b0, *_params = ctx.saved_tensors
        v0, i0, b0 = v0.contiguous(), i0.contiguous(), b0.contiguous()
        plan, steps = ctx.plan, ctx.steps
        B, T, N = steps.B, steps.T, steps.N
        syn, alif = bool(plan.flags & F_SYN), bool(plan.flags & F_ALIF)
        lib = c_loops.lib_for(XP, plan.flags, plan.spike_kind, plan.sg_kind)
        if lib is None:  # the forward ran compiled; the library cannot have gone since
            raise RuntimeError("spikekit-kernels: the compiled loop of the forward pass is no longer available")
        a = _args(c_loops.args_for(XP), plan, B, N)
        for j, p in enumerate(plan.sg_params[:5]):
            a.sg_p[j] = p
        GX = steps.new()
        # the decay factors' gradients: the kernel adds each step's share (no per-step buffers, no reduction pass)
        g_alpha_mem = XP.new_zeros(B, N)
        g_alpha_syn, g_alpha_adapt = (XP.new_zeros(B, N) if on else XP.new_empty(0) for on in (syn, alif))
        a.g_alpha_mem, a.g_alpha_syn, a.g_alpha_adapt = (
            c_loops.ptr(g_alpha_mem),
            c_loops.ptr(g_alpha_syn),
            c_loops.ptr(g_alpha_adapt),
        )
        a.accumulate = 1
        gw = g_vfin.reshape(B, N).contiguous().clone() if g_vfin is not None else XP.new_zeros(B, N)
        gi = g_ifin.reshape(B, N).contiguous().clone() if (syn and g_ifin is not None) else XP.new_zeros(B, N)
        gb = g_bfin.reshape(B, N).contiguous().clone() if (alif and g_bfin is not None) else XP.new_zeros(B, N)
        a.g_vfin = a.gv0 = gw.data_ptr()
        a.g_ifin = a.gi0 = gi.data_ptr() if syn else None
        a.g_bfin = a.gb0 = gb.data_ptr() if alif else None
        a.u = a.isave = a.bsave = None  # each step's u (i, b) is recomputed from the saved carried states
        given = lambda g: g.reshape(B, T, N) if g is not None and g.numel() else None  # noqa: E731
        grv, gri, grb = (steps.time_major(given(g)) for g in (g_recv, g_reci, g_recb))
        g3 = g_out.reshape(B, T, N) if g_out is not None else None
        linear = ctx.linear
        pgrads: list[Tensor | None] = [None] * ctx.nparams
        gxs = steps.views(GX)
        gos = g3.unbind(1) if g3 is not None else None
        gs = XP.new_zeros(B, N)  # the gradient reaching s_t: the output's plus what flows back through r_{t+1}
        a.gsb, a.gsn, a.g_out = N, 1, gs.data_ptr()
        if ctx.gemm is not None:
            w = linear.weight.detach()
            rc = c_abi.Rec(T=T, stride=steps.stride, gemm=ctx.gemm, w=w.data_ptr(), gs=gs.data_ptr())
            packed = torch_blas.packed_weight(w, B) if T > 1 else None  # kept alive until the loop returns
            if packed is not None:
                rc.compute, rc.wpacked = packed[0], packed[1].data_ptr()
            _point(rc, xp=XP, wv=W, is_=IS, bs=Bs, v0=v0, i0=i0, b0=b0, grv=grv, gri=gri, grb=grb, gx=GX)
            if g3 is not None:
                g3 = g3 if g3.dtype == XP.dtype else g3.to(XP.dtype)
                rc.g_out = g3.data_ptr()
                rc.gob, rc.got, rc.gon = (g3.stride(d) if g3.size(d) > 1 else 0 for d in range(3))
            if lib.lif_recurrent_backward(ctypes.byref(a), ctypes.byref(rc)) != 0:
                raise RuntimeError("spikekit-kernels: the fused backward loop could not allocate its buffer")
            T_python = -1  # nothing left for the loop below
        else:
            T_python = T - 1
        ptr = _StepPointers(steps, XP, W, IS, Bs, v0, i0, b0, grv, gri, grb, GX)
        for t in range(T_python, -1, -1):
            if t < T - 1:  # through r_{t+1} = rec(s_t)
                gr = gxs[t + 1]
                if linear is not None:
                    w = linear.weight.detach()
                    torch.addmm(gos[t], gr, w, out=gs) if gos is not None else torch.mm(gr, w, out=gs)
                else:
                    got = _vjp(ctx.graphs[t], gr, ctx.rec_params, pgrads, B, N)
                    torch.add(gos[t], got, out=gs) if gos is not None else gs.copy_(got)
            elif gos is not None:
                gs.copy_(gos[t])
            ptr.point(a, t)
            if lib.lif_backward(ctypes.byref(a)) != 0:
                raise RuntimeError("spikekit-kernels: the fused backward loop could not allocate its buffer")
        if linear is not None and ctx.nparams:
            _linear_param_grads(lib, linear, steps, GX, S, pgrads, ctx.needs_input_grad[16:])
        gx = steps.batch_view(GX)
        g_alpha_syn, g_alpha_adapt = (g_alpha_syn if syn else None), (g_alpha_adapt if alif else None)
        return (gx, gw, gi if syn else None, gb if alif else None, g_alpha_mem, g_alpha_syn, None, None, g_alpha_adapt,
            None, None,
                None, None, None, None, None, *pgrads)  # fmt: skip


def _gemm(linear: nn.Linear | None, B: int) -> int | None:
    """The BLAS product torch calls, for a plain ``nn.Linear`` whose products it gives with torch's bits; or None."""
    if linear is None or not linear.weight.is_contiguous():
        return None
    bias = linear.bias.detach() if linear.bias is not None else None
    if bias is not None and not bias.is_contiguous():
        return None
    return torch_blas.gemm_for(linear.weight.detach(), bias, B)


def _point(rc: ctypes.Structure, **bufs: Tensor | None) -> None:
    for name, t in bufs.items():
        setattr(rc, name, c_loops.ptr(t))


def _compiled_forward(lib, a, x, steps, bufs, linear, gemm) -> None:
    """The forward time loop as one compiled call (``lif_recurrent_forward``): per step the neuron update on
    ``x_t + r_t`` and ``r_{t+1} = s_t Wᵀ (+ bias)`` with torch's own BLAS call (:mod:`spikekit_kernels.torch_blas`)."""
    XP, S, W, IS, Bs = bufs
    r = x.new_zeros(steps.B, steps.N)  # r_0 = 0: the reference adds a zero tensor at the first step too
    w = linear.weight.detach()
    bias = linear.bias.detach() if linear.bias is not None else None
    wt = w.t().contiguous()
    nt = torch.get_num_threads()
    part = x.new_empty(nt, steps.N)
    kc = torch_blas.sparse_block(lib, w, wt, bias, steps.B)
    rc = c_abi.Rec(T=steps.T, stride=steps.stride, gemm=gemm, r=r.data_ptr(), x=x.data_ptr(), kc=kc, nthreads=nt)
    _point(rc, w=w, bias=bias, xp=XP, s=S, wv=W, is_=IS, bs=Bs, wt=wt, part=part)
    if lib.lif_recurrent_forward(ctypes.byref(a), ctypes.byref(rc)) != 0:
        raise RuntimeError("spikekit-kernels: the fused forward loop could not start its threads")


def _run_steps(lib, a, x, steps, bufs, plan, rec, linear, keep_graph) -> list[tuple[Tensor, Tensor]]:
    """The forward time loop: per step one compiled neuron update (whose input is ``x_t + r_t``) and the product
    ``r_{t+1} = rec(s_t)``. Returns the graph of each ``rec`` call when a general module must be differentiated."""
    B, T, N = steps.B, steps.T, steps.N
    XP, S, W, IS, Bs = bufs
    syn, alif = bool(plan.flags & F_SYN), bool(plan.flags & F_ALIF)
    graphs: list[tuple[Tensor, Tensor]] = []
    r = x.new_zeros(B, N)  # r_0 = 0: the reference adds a zero tensor at the first step too
    ss = steps.views(S, *plan.trail)
    (pxp, _), (ps, st), (pw, _) = (steps.ptrs(t) for t in (XP, S, W))
    (pi, _), (pb, _) = steps.ptrs(IS), steps.ptrs(Bs)
    px, row = x.data_ptr(), N * x.element_size()
    a.u = None
    for t in range(T):
        off = t * st
        a.x, a.rec, a.out = px + t * row, r.data_ptr(), ps + off
        a.xsave = pxp + off if pxp else None
        a.recv = pw + off if pw else None
        a.isave = pi + off if (syn and pi) else None
        a.bsave = pb + off if (alif and pb) else None
        if lib.lif_forward(ctypes.byref(a)) != 0:
            raise RuntimeError("spikekit-kernels: the fused forward loop could not start its threads")
        if linear is not None:
            if t < T - 1:  # the product after the last step is never used (a plain nn.Linear draws nothing)
                _product(linear, ss[t].view(B, N), r)
        elif keep_graph:
            with torch.enable_grad():
                leaf = ss[t].detach().requires_grad_(True)
                r_full = rec(leaf)
            graphs.append((leaf, r_full))
            r = _drive(r_full.detach(), x, B, N)
        else:
            r = _drive(rec(ss[t]), x, B, N)
    return graphs


def _drive(r: Tensor, x: Tensor, B: int, N: int) -> Tensor:
    """A general rec_connect's output as the (B, N) contiguous drive the compiled step adds to its input."""
    return r.reshape(B, N).to(x.dtype).contiguous()


class _StepPointers:
    """Points the T = 1 backward at step t: its input x + r, the previous step's carried states as "initial" ones
    (step 0: the layer's initial state), its outputs. Plain address arithmetic, no tensor ops per step."""

    def __init__(self, steps, XP, W, IS, Bs, v0, i0, b0, grv, gri, grb, GX) -> None:
        self.first = {"v0": c_loops.ptr(v0), "i0": c_loops.ptr(i0), "b0": c_loops.ptr(b0)}
        self.prev = {"v0": steps.ptrs(W), "i0": steps.ptrs(IS), "b0": steps.ptrs(Bs)}
        self.bufs = {name: steps.ptrs(t) for name, t in (("x", XP), ("g_recv", grv), ("g_reci", gri),
                     ("g_recb", grb), ("gx", GX))}  # fmt: skip
        self.keep = (v0, i0, b0)  # the "initial" states stay alive (and contiguous) while pointed at

    def point(self, a: ctypes.Structure, t: int) -> None:
        for name, (base, stride) in self.bufs.items():
            setattr(a, name, base + t * stride if base else None)
        for name, (base, stride) in self.prev.items():
            setattr(a, name, (base + (t - 1) * stride if base else None) if t > 0 else self.first[name])


def _vjp(graph: tuple[Tensor, Tensor], gr: Tensor, params: list[Tensor], pgrads: list[Tensor | None], B: int,
         N: int) -> Tensor:  # fmt: skip
    """∂L/∂s through one recorded rec_connect call; accumulates its parameters' gradients into pgrads."""
    leaf, r_full = graph
    with torch.enable_grad():
        got = torch.autograd.grad(r_full, [leaf, *params], gr.reshape(r_full.shape), allow_unused=True)
    for q, g in enumerate(got[1:]):
        prev = pgrads[q]
        if g is not None:
            pgrads[q] = g if prev is None else prev + g
    return got[0].reshape(B, N) if got[0] is not None else gr.new_zeros(B, N)


def _linear_param_grads(lib, linear, steps, GX, S, pgrads, needs) -> None:
    """Weight (and bias) gradients of r_{t+1} = s_t Wᵀ + c over all steps at once: Gᵀ S and Σ G.

    The weight's is computed from the spikes where at most three in eight are nonzero (``spike_weight_grad`` in
    lif_kernels.c: one row of G added per spike, summed in registers 32 rows of G at a time; for 99 steps of 32 x 512
    on one core 2.6 ms at 2.4 % spiking, 5 ms at 10 %, 11 ms at 30 %, against 16 ms for the dense product),
    otherwise as one dense product."""
    B, T, N = steps.B, steps.T, steps.N
    if T < 2:
        return
    G = GX[1:T, : B * N].reshape((T - 1) * B, -1)
    Sx = S[: T - 1, : B * N].reshape((T - 1) * B, -1)
    names = [n for n, p in linear.named_parameters()]
    for q, name in enumerate(names):
        if q < len(needs) and not needs[q]:
            continue
        if name != "weight":
            pgrads[q] = G.sum(0)
            continue
        wt = GX.new_empty(N, N)
        row = steps.stride * GX.element_size()
        sparse = lib.spike_weight_grad(GX.data_ptr() + row, S.data_ptr(), T - 1, B, steps.stride, N, N,
                                       (T - 1) * B * N * 3 // 8, wt.data_ptr(), torch.get_num_threads())  # fmt: skip
        pgrads[q] = wt.t() if sparse == 0 else G.t() @ Sx


def run_recurrent(x: Tensor, state: Mapping[str, Tensor], params: NeuronParams, plan: Plan) -> BackendResult:
    """Run a recurrent layer (plan from :func:`recurrent_plan`) and shape the results as the layer's."""
    rec = params.rec_connect
    assert rec is not None
    B, T, N, trail = plan.B, plan.T, plan.N, plan.trail
    x3 = x.reshape(B, T, N)
    zero = x3.new_empty(0)
    v0 = state["v_mem"].reshape(B, N)
    i0 = state["i_syn"].reshape(B, N) if plan.flags & F_SYN else zero
    b0 = state["b"].reshape(B, N) if plan.flags & F_ALIF else zero
    linear = _linear(rec, x3, plan)
    rec_params = [p for p in rec.parameters()] if linear is not None else _general_params(rec)
    record = params.record_states
    inputs = (x3, v0, i0, b0, plan.alpha_mem, plan.alpha_syn, plan.alpha_adapt, *rec_params)
    grad = torch.is_grad_enabled() and any(t.requires_grad for t in inputs)
    out, recv, reci, recb, vfin, ifin, bfin = _RecurrentLoop.apply(
        x3, v0, i0, b0, plan.alpha_mem, plan.alpha_syn, plan.threshold, plan.floor, plan.alpha_adapt,
        plan.adapt_scale, plan.reset_const, plan, rec, linear, record, grad, *rec_params,
    )  # fmt: skip
    shape_bt, shape_b = (B, T, *trail), (B, *trail)
    final: dict[str, Tensor] = {"v_mem": vfin}
    recs: dict[str, Tensor] = {}
    if record:
        recs["v_mem"] = recv.view(shape_bt)
    if plan.flags & F_SYN:
        final["i_syn"] = ifin
        if record:
            recs["i_syn"] = reci.view(shape_bt)
    if plan.flags & F_ALIF:
        final["b"] = bfin
        final["spike_threshold"] = (plan.threshold + plan.adapt_scale * bfin.reshape(B, N)).reshape(shape_b)
        if record:
            recs["b"] = recb.view(shape_bt)
            thr_rec = plan.threshold.unsqueeze(1) + plan.adapt_scale.unsqueeze(1) * recb
            recs["spike_threshold"] = thr_rec.reshape(shape_bt)
    final = {k: final[k].clone() if final[k]._base is not None else final[k] for k in state}
    recs = {k: recs[k] for k in state if k in recs}
    return out, final, recs


def _general_params(rec: nn.Module) -> list[Tensor]:
    return [p for p in rec.parameters() if p.requires_grad]
