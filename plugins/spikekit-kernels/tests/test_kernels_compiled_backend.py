"""The generic ``compiled`` backend: any StepModel, its step through torch.compile, checked against the reference."""

from __future__ import annotations

import pytest
import torch

from spikekit.compute import NeuronParams, StepModel, get_backend, run_neuron, run_step_loop, use_backend
from spikekit.testing import BackendConformance


class TestCompiledBackendConformance(BackendConformance):
    backend_name = "compiled"
    must_support = ("step-two-compartment", "step-record")


def _adex_like(x, state, params):
    # a model the LIF family cannot describe: quadratic membrane drive and an adaptation current
    v = state["v_mem"] + params["dt"] * (v_sq := state["v_mem"] * state["v_mem"]) - state["w"] + x
    spikes = (v >= params["threshold"]).to(v.dtype)
    w = params["a"] * state["w"] + params["b"] * spikes + 0.0 * v_sq
    return spikes, {"v_mem": v * (1 - spikes), "w": w}


def test_a_new_model_runs_compiled_and_matches_the_reference_loop():
    params = {"dt": 0.05, "threshold": 1.0, "a": torch.tensor(0.9), "b": 0.2}
    model = StepModel(_adex_like, params, kind="test.adex_like", record_states=True, layer_name="AdExLike")
    x = torch.rand(3, 12, 7, generator=torch.Generator().manual_seed(0)) * 0.6
    state = {"v_mem": torch.zeros(3, 7), "w": torch.zeros(3, 7)}
    out, final, recs = get_backend("compiled").run(x, state, model)
    ref_out, ref_final, ref_recs = run_step_loop(x, state, model)
    assert out.sum() > 0  # it spikes
    torch.testing.assert_close(out, ref_out, rtol=0, atol=0)
    for k in ref_final:
        torch.testing.assert_close(final[k], ref_final[k], rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(recs[k], ref_recs[k], rtol=1e-6, atol=1e-6)


def test_selected_by_use_backend_and_declines_the_lif_family():
    model = StepModel(_adex_like, {"dt": 0.05, "threshold": 1.0, "a": 0.9, "b": 0.2}, layer_name="AdExLike")
    x = torch.rand(1, 4, 3)
    state = {"v_mem": torch.zeros(1, 3), "w": torch.zeros(1, 3)}
    with use_backend("compiled", fallback="error"):
        out = run_neuron(None, x, state, model)[0]
    assert out.shape == x.shape
    lif = NeuronParams(torch.tensor(0.9), None, torch.tensor(1.0), None, None, None)
    assert "StepModel" in get_backend("compiled").unsupported_reason(x, {"v_mem": torch.zeros(1, 3)}, lif)


def test_a_step_with_a_graph_break_still_runs():
    def untraceable(x, state, params):
        torch._dynamo.graph_break()  # dynamo splits the step in two graphs; the result stays the reference's
        return x, dict(state)

    model = StepModel(untraceable, {}, kind="test.untraceable", layer_name="Odd")
    out = get_backend("compiled").run(torch.ones(1, 2, 1), {"v_mem": torch.zeros(1, 1)}, model)[0]
    assert torch.equal(out, torch.ones(1, 2, 1))


def test_step_models_fall_back_from_fused_cpu_with_a_reason():
    pytest.importorskip("spikekit_kernels.cpu_backend")
    model = StepModel(_adex_like, {"dt": 0.05, "threshold": 1.0, "a": 0.9, "b": 0.2}, layer_name="AdExLike")
    reason = get_backend("fused-cpu").unsupported_reason(torch.ones(1, 2, 3), {"v_mem": torch.zeros(1, 3)}, model)
    assert "StepModel" in reason
