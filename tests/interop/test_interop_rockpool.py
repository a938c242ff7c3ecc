"""rockpool -> spikekit through NIR: the "rockpool" convention reproduces rockpool's own run exactly
(``nox -s interop-rockpool``; skipped without rockpool).

rockpool 3.1's ``LIFTorch`` steps ``I = β (I + x)``, ``v = α v + I`` with ``α = exp(-dt/τ_mem)``,
``β = exp(-dt/τ_syn)``, as many spikes per step as thresholds crossed and a subtractive reset, and writes NIR
``CubaLIF`` nodes with ``r = τ_mem α / dt`` and ``w_in = 1``: read with ``gain="exp_euler"`` (``g = r dt / (τ a)``,
``g_syn = w_in a_syn``), exponential decay, multi-spike and subtraction at rockpool's ``dt``.
"""

from __future__ import annotations

import warnings

import pytest
import torch

pytest.importorskip("rockpool")
rp_modules = pytest.importorskip("rockpool.nn.modules")
rp_combinators = pytest.importorskip("rockpool.nn.combinators")
rp_nir = pytest.importorskip("rockpool.nn.modules.torch.nir")

import spikekit  # noqa: E402
from spikekit_nir import Convention  # noqa: E402

B, T = 2, 40


@pytest.mark.parametrize("tau_syn", [0.01, 0.004], ids=["tau_syn-10ms", "tau_syn-4ms"])
def test_rockpool_export_spikekit_import(tau_syn):
    torch.manual_seed(0)
    net = rp_combinators.Sequential(
        rp_modules.LinearTorch((3, 4)), rp_modules.LIFTorch(4, tau_mem=0.02, tau_syn=tau_syn, dt=1e-3)
    )
    with torch.no_grad():
        net[0].weight.mul_(3)
    x = torch.rand(B, T, 3) * 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected, _, _ = net(x)
        graph = rp_nir.to_nir(net)
    expected = expected.detach()
    assert expected.sum() > 10 and expected.max() > 1  # several spikes in one step happen
    ours = spikekit.from_nir(graph, batch_size=B, convention="rockpool")
    assert torch.equal(ours(x.reshape(B * T, 3)).reshape(B, T, -1).detach(), expected)
    euler = spikekit.from_nir(graph, batch_size=B, convention=Convention.named("snntorch", dt=1e-3))
    assert not torch.equal(euler(x.reshape(B * T, 3)).reshape(B, T, -1).detach(), expected)
