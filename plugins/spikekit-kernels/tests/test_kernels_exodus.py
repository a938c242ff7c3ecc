"""fused-cpu's gradient through the subtractive reset is the EXODUS gradient (Bauer et al. 2023).

EXODUS writes the input gradient of an IAF/LIF layer with subtractive reset in closed form, a sum over later steps of
products of per-step factors (obtained with the implicit function theorem; it equals BPTT through the reset):

    u_t = α w_{t-1} + x_t,   s_t = S(u_t),   w_t = u_t − θ s_t,   ψ_t = surrogate(u_t, θ)
    ∂L/∂x_i = Σ_{j ≥ i} g_j ψ_j Π_{k=i}^{j-1} α (1 − θ ψ_k)          (g_j = ∂L/∂s_j)

SLAYER's gradient, which ignores the reset, has α in place of α (1 − θ ψ_k). The test evaluates the closed form
literally (a double sum over steps, float64, tiny inputs) from a hand-written simulation and compares it with the
fused backend's recursive backward, and checks that it is not the reset-free gradient.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from spikekit.compute import get_backend

sys.path.insert(0, str(Path(__file__).parent))
from _kernels_testcfg import act, make_config


def _closed_forms(x: torch.Tensor, v0: torch.Tensor, alpha: float, theta: float, g: torch.Tensor):
    """(EXODUS gradient, reset-free gradient, spikes) for x (B, T, N), by the formulas in the module docstring."""
    sg = act.SingleExponential()
    B, T, N = x.shape
    w, us, spikes = v0.clone(), [], []
    for t in range(T):
        u = alpha * w + x[:, t]
        s = (u > 0) * torch.trunc(u / theta)
        w = u - theta * s
        us.append(u)
        spikes.append(s)
    psi = [sg(u, torch.tensor(theta, dtype=x.dtype)) for u in us]
    exodus = torch.zeros_like(x)
    slayer = torch.zeros_like(x)
    for i in range(T):
        for j in range(i, T):
            prod_e = torch.ones_like(v0)
            prod_s = torch.ones_like(v0)
            for k in range(i, j):
                prod_e = prod_e * alpha * (1 - theta * psi[k])
                prod_s = prod_s * alpha
            exodus[:, i] += g[:, j] * psi[j] * prod_e
            slayer[:, i] += g[:, j] * psi[j] * prod_s
    return exodus, slayer, torch.stack(spikes, 1)


@pytest.mark.parametrize("use_c", [True, False], ids=["compiled", "torch-loop"])
@pytest.mark.parametrize("model", ["iaf", "lif"])
def test_input_gradient_equals_the_exodus_closed_form(model, use_c, monkeypatch) -> None:
    from spikekit_kernels import c_loops

    if not use_c:
        monkeypatch.setattr(c_loops, "use_c", lambda x: None)
    params, state = make_config(model, surrogate="SingleExponential", dtype=torch.float64, train=False, B=2,
                                trail=(3,))  # fmt: skip
    alpha = float(params.alpha_mem)
    theta = float(params.spike_threshold)
    gen = torch.Generator().manual_seed(5)
    x = (torch.rand(2, 7, 3, generator=gen, dtype=torch.float64) * 1.6).requires_grad_(True)
    g = torch.randn(2, 7, 3, generator=gen, dtype=torch.float64)
    v0 = state["v_mem"].clone()
    out, _, _ = get_backend("fused-cpu").run(x, state, params)
    (gx,) = torch.autograd.grad(out, x, g)
    exodus, slayer, spikes = _closed_forms(x.detach(), v0, alpha, theta, g)
    assert torch.equal(out, spikes)
    assert spikes.sum() > 3  # the reset matters in this example
    torch.testing.assert_close(gx, exodus, rtol=1e-12, atol=1e-12)
    assert (gx - slayer).abs().max() > 1e-3  # and it is not the gradient that ignores the reset
