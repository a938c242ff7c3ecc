"""float64 checks of the fused op's hand-written backward (input, initial state and decay factors).

A spiking layer's forward is piecewise constant, so finite differences cannot check a surrogate gradient: for spiking
configurations the backward is compared in float64 with autograd through the reference backend's loop (the BPTT it
must equal) at 1e-7 relative; leaky integrators (smooth) get a true numerical ``gradcheck``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from spikekit.compute import get_backend

sys.path.insert(0, str(Path(__file__).parent))
from _kernels_testcfg import alphas, make_config

SMOOTH = [
    dict(model="expleak", norm=True, floor=True, record=True),
    dict(model="expleak", syn=True, norm=True, record=True, per_neuron=True),
    dict(model="expleak", syn=True, floor=True),
]
CASES = [
    dict(model="lif", syn=True, norm=True, surrogate="SingleExponential"),
    dict(model="lif", floor=True, spike="single", surrogate="Gaussian", record=True),
    dict(model="iaf", reset="reset-value", surrogate="MultiGaussian"),
    dict(model="lif", spike="max2", reset="subtract-value", surrogate="callable", per_neuron=True),
    dict(model="alif", syn=True, norm=True, spike="single", surrogate="SingleExponential", record=True),
    dict(model="alif", spike="multi", reset="reset", surrogate="Gaussian", floor=True),
]


@pytest.mark.parametrize("use_c", [True, False], ids=["compiled", "torch-loop"])
@pytest.mark.parametrize("cfg", SMOOTH, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_gradcheck_float64(cfg, use_c, monkeypatch) -> None:
    from spikekit_kernels import c_loops

    if not use_c:
        monkeypatch.setattr(c_loops, "use_c", lambda x: None)
    params, state = make_config(**cfg, dtype=torch.float64, trail=(3,), B=2)
    names = list(state)
    g = torch.Generator().manual_seed(5)
    # inputs kept away from spike thresholds so that finite differences do not cross a spike
    x = (torch.rand(2, 6, 3, generator=g, dtype=torch.float64) * 0.8 + 0.05).requires_grad_(True)
    leaves = [x, *(state[n].clone().requires_grad_(True) for n in names), *alphas(params)]
    backend = get_backend("fused-cpu")

    def fn(x, *rest):
        st = dict(zip(names, rest[: len(names)]))
        p = params
        it = iter(rest[len(names) :])
        for attr in ("alpha_mem", "alpha_syn", "alpha_adapt"):
            a = getattr(params, attr)
            if a is not None and a.requires_grad:
                setattr(p, attr, next(it))
        out, final, rec = backend.run(x, st, p)
        return (out, *final.values(), *rec.values())

    assert backend.unsupported_reason(x, state, params) is None
    torch.autograd.gradcheck(fn, tuple(leaves), eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("use_c", [True, False], ids=["compiled", "torch-loop"])
@pytest.mark.parametrize("cfg", CASES, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_bptt_float64_equals_autograd_through_the_reference(cfg, use_c, monkeypatch) -> None:
    from spikekit_kernels import c_loops

    if not use_c:
        monkeypatch.setattr(c_loops, "use_c", lambda x: None)
    grads = []
    for name in ("fused-cpu", "torch"):
        params, state = make_config(**cfg, dtype=torch.float64, trail=(4,), B=2)
        g = torch.Generator().manual_seed(8)
        x = (torch.rand(2, 30, 4, generator=g, dtype=torch.float64) * 1.6 - 0.2).requires_grad_(True)
        for v in state.values():
            v.requires_grad_(True)
        out, final, rec = get_backend(name).run(x, state, params)
        loss = (out * torch.randn(out.shape, generator=g, dtype=out.dtype)).sum()
        for t in (*final.values(), *rec.values()):
            loss = loss + (t * torch.randn(t.shape, generator=g, dtype=t.dtype)).sum()
        leaves = [x, *state.values(), *alphas(params)]
        grads.append([torch.zeros_like(v) if d is None else d
                      for v, d in zip(leaves, torch.autograd.grad(loss, leaves, allow_unused=True))])  # fmt: skip
    assert any(torch.count_nonzero(d) > 0 for d in grads[1])
    for mine, ref in zip(*grads):
        torch.testing.assert_close(mine, ref, rtol=1e-7, atol=1e-9)
