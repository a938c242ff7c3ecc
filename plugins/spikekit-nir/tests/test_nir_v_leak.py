"""Resting potentials (``v_leak``) of LIF, CubaLIF and LI, against NIR's equations in every convention.

Discretised as each convention says (decay ``a``, gains ``g``):
``I_t = a_syn I_{t-1} + g_syn x_t``, ``v_t = a v_{t-1} + (1 - a) v_leak + g I_t`` (``I_t = x_t`` without synapse),
spike where ``v_t`` reaches the threshold, then the convention's reset; states start at rest (``v_0 = v_leak``).
"""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch

from spikekit_nir import Convention, NeuronNode, from_nir, to_nir
from spikekit_nir.conventions import PRESETS

N, T = 4, 40
V_LEAK = np.array([0.3, -0.4, 0.0, 0.5])


def _reference(node, x: np.ndarray, c: Convention) -> np.ndarray:
    """NIR's equations, stepped as the convention says (float64)."""
    kind = type(node).__name__
    tau = node.tau_mem if kind == "CubaLIF" else node.tau
    a = c.decay_factor(tau)
    g = c.membrane_gain(node.r, tau)
    v = np.array(V_LEAK, dtype=np.float64)
    i = np.zeros(N)
    out = []
    for x_t in x:
        if kind == "CubaLIF":
            i = c.decay_factor(node.tau_syn) * i + c.synapse_gain(node.w_in, node.tau_syn) * x_t
        else:
            i = x_t
        v = a * v + (1 - a) * V_LEAK + g * i
        if kind == "LI":
            out.append(v.copy())
            continue
        thr = np.asarray(node.v_threshold)
        z = (v >= thr).astype(np.float64)  # one spike per step (the conventions below)
        v = v - z * thr if c.reset == "subtract" else np.where(z > 0, np.asarray(node.v_reset), v)
        out.append(z)
    return np.stack(out)


def _nodes(c: Convention):
    tau = c.tau_from_steps(np.array([3.0, 5.0, 8.0, 4.0]))
    tau_syn = c.tau_from_steps(np.full(N, 2.0))
    v_reset = np.full(N, -0.2) if c.reset == "to_v_reset" else np.zeros(N)
    common = dict(v_leak=V_LEAK, v_threshold=np.full(N, 1.2), v_reset=v_reset)
    r = c.r_from_gain(np.full(N, 0.7), tau)
    yield "LIF", nir.LIF(tau=tau, r=r, **common)
    yield "CubaLIF", nir.CubaLIF(tau_mem=tau, tau_syn=tau_syn, r=r, w_in=np.full(N, 1.5), **common)
    yield "LI", nir.LI(tau=tau, r=r, v_leak=V_LEAK)


@pytest.mark.parametrize("preset", ["sinabs", "snntorch", "norse"])
def test_v_leak_follows_the_equations_and_round_trips(preset):
    c = PRESETS[preset]
    if preset == "sinabs":
        # sinabs's own graphs have no v_leak; with a resting potential, one spike per step is NIR's own reading
        c = Convention.named("sinabs", spike="single")
    x = np.random.default_rng(0).uniform(-0.5, 1.5, (T, N))
    for name, node in _nodes(c):
        model = from_nir(node, batch_size=1, convention=c)
        assert isinstance(model.model, NeuronNode)
        got = model(torch.tensor(x, dtype=torch.float32)).detach().double().numpy()
        expected = _reference(node, x, c)
        if name == "LI":
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, err_msg=name)
        else:
            np.testing.assert_array_equal(got, expected, err_msg=name)
            assert 0 < expected.sum() < expected.size
        back = to_nir(from_nir(node, batch_size=1, convention=c), torch.zeros(1, N), convention=c)
        again = back.nodes["model"]
        fields = ("v_leak", "tau") if name == "LI" else ("v_leak", "v_threshold", "tau" if name == "LIF" else "tau_mem")
        for field in fields:
            np.testing.assert_allclose(getattr(again, field), getattr(node, field), rtol=1e-6, err_msg=field)
        if hasattr(node, "v_reset"):
            np.testing.assert_allclose(again.v_reset, np.broadcast_to(node.v_reset, (N,)), atol=1e-6)
        if name == "CubaLIF":  # the gains may move between r and w_in; their product is what the equations use
            np.testing.assert_allclose(again.r * again.w_in, node.r * node.w_in, rtol=1e-5)
        else:
            np.testing.assert_allclose(again.r, node.r, rtol=1e-5)


def test_a_neuron_resting_at_its_threshold_is_refused_by_name():
    node = nir.LIF(tau=np.full(2, 5.0), r=np.ones(2), v_leak=np.array([0.0, 1.0]), v_threshold=np.ones(2))
    with pytest.raises(ValueError, match=r"'model' \(LIF\): v_threshold - v_leak must be > 0"):
        from_nir(node, batch_size=1)
