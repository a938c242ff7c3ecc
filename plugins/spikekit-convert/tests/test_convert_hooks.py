"""Firing-rate and input-difference hooks, hook_data handling, registration."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import spikekit.hooks as hooks


def test_firing_rate_hooks_squeezed_and_unsqueezed(toy_layers):
    plain, squeeze = toy_layers
    layer = plain()
    layer.register_forward_hook(hooks.firing_rate_hook)
    layer.register_forward_hook(hooks.firing_rate_per_neuron_hook)
    x = torch.tensor([[[2.0, 0.0], [1.0, 0.0]], [[0.0, 0.0], [3.0, 1.0]]])  # (B=2, T=2, N=2)
    out = layer(x)  # spikes [[2,0],[1,0]], [[0,0],[3,1]]
    assert layer.hook_data["firing_rate"].item() == pytest.approx(out.mean().item()) == pytest.approx(7 / 8)
    assert torch.allclose(layer.hook_data["firing_rate_per_neuron"], torch.tensor([6 / 4, 1 / 4]))

    sq = squeeze(batch_size=2)
    sq.register_forward_hook(hooks.firing_rate_per_neuron_hook)
    sq(x.flatten(0, 1))
    assert torch.allclose(sq.hook_data["firing_rate_per_neuron"], torch.tensor([6 / 4, 1 / 4]))


def test_firing_rate_keeps_graph(toy_layers):
    plain, _ = toy_layers
    layer = plain()
    layer.register_forward_hook(hooks.firing_rate_hook)
    x = torch.full((1, 1, 3), 1.2, requires_grad=True)
    layer(x)
    layer.hook_data["firing_rate"].backward()
    assert x.grad is not None and torch.all(x.grad != 0)


def test_input_diff_hook_linear_hand_computed():
    lin = nn.Linear(2, 1, bias=True)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, -2.0]]))
        lin.bias.fill_(0.5)
    lin.register_forward_hook(hooks.input_diff_hook)
    lin(torch.tensor([[3.0, 1.0]]))
    # |W| x = 3 + 2 = 5;  |W x + b| = |3 - 2 + 0.5| = 1.5
    assert torch.allclose(lin.hook_data["diff_output"], torch.tensor([[3.5]]))


def test_input_diff_hook_conv_is_zero_for_positive_weights():
    conv = nn.Conv2d(2, 4, 3, stride=2, padding=1, groups=2, bias=False)
    with torch.no_grad():
        conv.weight.abs_()
    conv.register_forward_hook(hooks.input_diff_hook)
    out = conv(torch.rand(3, 2, 5, 5))
    assert conv.hook_data["diff_output"].shape == out.shape
    assert torch.allclose(conv.hook_data["diff_output"], torch.zeros_like(out), atol=1e-6)


def test_hooks_reject_multiple_inputs():
    with pytest.raises(ValueError, match="exactly one input"):
        hooks.linear_layer_synops_hook(nn.Linear(2, 2), (torch.ones(1, 2), torch.ones(1, 2)), torch.ones(1, 2))


def test_get_hook_data_dict_creates_once():
    m = nn.Identity()
    d = hooks.get_hook_data_dict(m)
    d["x"] = 1
    assert hooks.get_hook_data_dict(m) is d


def test_register_synops_hooks_on_direct_children_only():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 3))
    hooks.register_synops_hooks(model)
    model(torch.ones(1, 1, 4, 4))
    assert set(model.hook_data["synops_per_timestep"]) == {0, 2}
    assert "total_synops_per_second" not in model.hook_data
    with pytest.raises(TypeError, match="nn.Sequential"):
        hooks.register_synops_hooks(nn.Linear(2, 2))


def test_model_synops_hook_is_picklable():
    import pickle

    hook = pickle.loads(pickle.dumps(hooks.ModelSynopsHook(dt=0.1)))
    assert hook == hooks.ModelSynopsHook(dt=0.1)
