"""The activation protocols and the surrogate-gradient glue."""

from __future__ import annotations

import pytest
import torch

from spikekit.activation import ResetFunction, SpikeFunction, SurrogateGradient, SurrogateSpikeFunction


class Ceil(SurrogateSpikeFunction):
    @staticmethod
    def spike_rule(v_mem, spike_threshold):
        return torch.clamp(torch.floor(v_mem / spike_threshold), min=0)


def triangle(v_mem, spike_threshold):
    return torch.clamp(1 - (v_mem - spike_threshold).abs(), min=0)


def test_forward_uses_the_rule_and_backward_the_surrogate():
    v = torch.tensor([-0.5, 0.5, 1.0, 2.7], requires_grad=True)
    out = Ceil.apply(v, torch.tensor(1.0), triangle)
    assert torch.equal(out, torch.tensor([0.0, 0.0, 1.0, 2.0]))
    grad_out = torch.tensor([1.0, 2.0, 3.0, 4.0])
    out.backward(grad_out)
    assert torch.allclose(v.grad, grad_out * triangle(v.detach(), torch.tensor(1.0)))


def test_no_gradient_reaches_the_threshold_and_saved_v_is_a_copy():
    v = torch.tensor([0.2, 1.4], requires_grad=True)
    thr = torch.tensor(1.0, requires_grad=True)
    out = Ceil.apply(v * 1.0, thr, triangle)
    out.sum().backward()
    assert thr.grad is None
    assert torch.allclose(v.grad, triangle(torch.tensor([0.2, 1.4]), torch.tensor(1.0)))


def test_gradcheck_in_float64_against_the_surrogate():
    v = torch.linspace(-1, 3, 9, dtype=torch.float64, requires_grad=True)
    thr = torch.tensor(1.0, dtype=torch.float64)
    out = Ceil.apply(v, thr, triangle)
    (g,) = torch.autograd.grad(out.sum(), v)
    assert torch.allclose(g, triangle(v.detach(), thr))


def test_missing_surrogate_is_a_clear_error():
    v = torch.tensor([1.5], requires_grad=True)
    out = Ceil.apply(v, torch.tensor(1.0), None)
    try:
        out.backward()
    except RuntimeError as exc:
        assert "surrogate_grad_fn=None" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected a RuntimeError")


@pytest.mark.slow  # a cold torch.compile cache takes about a minute
def test_compiles_without_graph_break():
    compiled = torch.compile(lambda v: Ceil.apply(v, torch.tensor(1.0), triangle), fullgraph=True)
    v = torch.tensor([0.5, 1.5], requires_grad=True)
    compiled(v).sum().backward()
    assert torch.allclose(v.grad, triangle(torch.tensor([0.5, 1.5]), torch.tensor(1.0)))


def _integrate_and_fire(x, state, thr, spike_fn: SpikeFunction, reset_fn: ResetFunction, sg: SurrogateGradient):
    # how a neuron layer uses the three protocols, written against them alone
    v_mem = state["v_mem"] + x
    spikes = spike_fn.apply(v_mem, thr, sg)
    return spikes, reset_fn(spikes, {**state, "v_mem": v_mem}, thr)


def test_runtime_protocols_accept_plain_callables_and_objects():
    def subtract(spikes, state, spike_threshold):
        return {**state, "v_mem": state["v_mem"] - spikes * spike_threshold}

    assert isinstance(triangle, SurrogateGradient) and isinstance(Ceil, SpikeFunction)
    assert isinstance(subtract, ResetFunction)
    # and they do the job a layer gives them: two steps of integrate-and-fire with a multi-spike rule
    x = torch.tensor([0.4, 1.2, 2.5], requires_grad=True)
    thr = torch.tensor(1.0)
    spikes, state = _integrate_and_fire(x, {"v_mem": torch.zeros(3)}, thr, Ceil, subtract, triangle)
    assert torch.equal(spikes, torch.tensor([0.0, 1.0, 2.0]))
    assert torch.allclose(state["v_mem"], torch.tensor([0.4, 0.2, 0.5]))
    spikes2, state2 = _integrate_and_fire(x, state, thr, Ceil, subtract, triangle)
    assert torch.equal(spikes2, torch.tensor([0.0, 1.0, 3.0]))
    assert torch.allclose(state2["v_mem"], torch.tensor([0.8, 0.4, 0.0]), atol=1e-6)
    spikes.sum().backward()  # the surrogate, not the step's zero derivative, reaches the input
    assert torch.allclose(x.grad, triangle(x.detach(), thr))
