"""Running a :class:`~spikekit_kernels._plan.Plan` through the fused op, on any device: the layer's tensors
flattened to the op's ``(B, T, N)`` / ``(B, N)`` shapes and the results shaped back to the layer's.

The neurons are independent, so the op runs them in the order they are stored: a ``channels_last`` conv's output
(``(B, T, C, H, W)`` stored as ``(B, T, H, W, C)``) is read without a copy and the spikes, states and gradients come
back in the same layout (which the next ``channels_last`` conv or ``SumPool2d`` then reads without a copy either).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import torch

from spikekit.compute import BackendResult
from spikekit_kernels import op
from spikekit_kernels._plan import F_ALIF, F_SYN, SG_TENSOR, Plan

__all__ = ["run_plan"]

Tensor = torch.Tensor


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
        key = op.register_surrogate(plan.surrogate)
    call = op.EagerOp.apply if op.eager(x3) else op.lif_forward
    out, _u, isave, bsave, recv, vfin, ifin, bfin = call(
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
