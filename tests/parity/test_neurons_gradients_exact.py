"""The reference loop's gradients of the time constants equal sinabs 3.1.3's bit for bit (float32), not just within
a tolerance: the loop computes ``1 - alpha`` at every step, as sinabs does, so the gradient contributions of the
steps are summed in sinabs's order. (ALIF with a synapse and ``norm_input`` is a deliberate difference, row 5 of
the neurons' differences table, and is left out.)"""

from __future__ import annotations

import pytest
import torch

sl = pytest.importorskip("sinabs.layers")
pytestmark = pytest.mark.parity

import sinabs.activation as sa  # noqa: E402

import spikekit.activation as ka  # noqa: E402
import spikekit.layers as kl  # noqa: E402


def _t(value):
    return torch.tensor(value)


CASES = {
    "LIF, synapse, norm_input": (lambda L, A: L.LIF(tau_mem=_t(10.0), tau_syn=_t(5.0)), ["tau_mem", "tau_syn"]),
    "LIF, no norm_input": (lambda L, A: L.LIF(_t(10.0), tau_syn=_t(5.0), norm_input=False), ["tau_mem", "tau_syn"]),
    "LIF, per-neuron taus": (lambda L, A: L.LIF(tau_mem=torch.linspace(4, 20, 8), tau_syn=_t(3.0)), ["tau_mem"]),
    "LIF, floor, SingleSpike": (lambda L, A: L.LIF(_t(8.0), min_v_mem=-1.0, spike_fn=A.SingleSpike), ["tau_mem"]),
    "LIF, train_alphas": (lambda L, A: L.LIF(_t(10.0), tau_syn=_t(5.0), train_alphas=True), ["alpha_mem", "alpha_syn"]),
    "ExpLeak, norm_input": (lambda L, A: L.ExpLeak(tau_mem=_t(10.0), norm_input=True), ["tau_mem"]),
    "LIFRecurrent": (
        lambda L, A: L.LIFRecurrent(tau_mem=_t(10.0), rec_connect=torch.nn.Linear(8, 8, bias=False)),
        ["tau_mem"],
    ),
    "ALIF, no synapse": (lambda L, A: L.ALIF(tau_mem=_t(10.0), tau_adapt=_t(20.0)), ["tau_mem", "tau_adapt"]),
    "ALIF, no norm_input": (
        lambda L, A: L.ALIF(_t(10.0), _t(20.0), tau_syn=_t(5.0), norm_input=False),
        ["tau_mem", "tau_adapt", "tau_syn"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_time_constant_gradients_are_sinabs_bit_for_bit(case):
    make, params = CASES[case]
    torch.manual_seed(1)
    theirs = make(sl, sa)
    torch.manual_seed(1)
    ours = make(kl, ka)
    x = torch.rand(3, 60, 8, generator=torch.Generator().manual_seed(0)) * 2
    weights = torch.rand(8, generator=torch.Generator().manual_seed(2))
    out_s, out_k = theirs(x), ours(x)
    assert torch.equal(out_k, out_s)
    (out_s * weights).sum().backward()
    (out_k * weights).sum().backward()
    for name in params:
        assert torch.equal(getattr(ours, name).grad, getattr(theirs, name).grad), name
