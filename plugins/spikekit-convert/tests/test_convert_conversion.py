"""replace_module / replace_module_ and cnnutils / small utils."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import spikekit.cnnutils as cnnutils
import spikekit.utils as su
from spikekit.conversion import replace_module, replace_module_


class MyReLU(nn.ReLU):
    pass


def test_replace_module_exact_type_nested_and_copy():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Sequential(nn.ReLU(), MyReLU()))
    new = replace_module(model, nn.ReLU, lambda m: nn.Tanh())
    assert [type(m) for m in new.modules()] == [nn.Sequential, nn.Linear, nn.Tanh, nn.Sequential, nn.Tanh, MyReLU]
    assert type(model[1]) is nn.ReLU  # original untouched
    assert new[0].weight is not model[0].weight


def test_replace_module_on_the_model_itself():
    relu = nn.ReLU()
    assert isinstance(replace_module(relu, nn.ReLU, lambda m: nn.Tanh()), nn.Tanh)
    with pytest.warns(UserWarning, match="cannot be replaced in place"):
        replace_module_(relu, nn.ReLU, lambda m: nn.Tanh())


def test_replace_module_in_place_returns_none():
    model = nn.Sequential(nn.ReLU())
    assert replace_module_(model, nn.ReLU, lambda m: nn.Identity()) is None
    assert isinstance(model[0], nn.Identity)


def test_cnnutils():
    assert cnnutils.conv_output_size(28, 5, 2) == 12
    with pytest.raises(ValueError, match="smaller than kernel"):
        cnnutils.conv_output_size(2, 3, 1)
    assert cnnutils.compute_same_padding_size(3) == (1, 1)
    assert cnnutils.compute_same_padding_size(4) == (2, 1)
    assert cnnutils.compute_padding((3, 4), (1, 8, 8), "same") == (2, 1, 1, 1)
    assert cnnutils.compute_padding((3, 4), (1, 8, 8)) == (0, 0, 0, 0)
    with pytest.raises(NotImplementedError):
        cnnutils.compute_padding((3, 3), (1, 8, 8), "full")
    assert cnnutils.infer_output_shape(nn.Conv2d(2, 4, 3, stride=2), (2, 9, 9)) == (4, 4, 4)


def test_pair_and_index_helpers():
    assert su.get_new_index([0, 1, 2, 3]) == 4
    assert su.get_new_index([0, 1, 3]) == 2
    assert su.get_new_index([]) == 0
    assert su.expand_to_pair(3) == (3, 3)
    assert su.expand_to_pair((1, 2)) == (1, 2)
    assert su.collapse_pair((2, 2)) == 2
    assert su.collapse_pair(5) == 5
    with pytest.raises(ValueError, match="must be the same"):
        su.collapse_pair([1, 2])


def test_normalize_weights_hand_computed():
    lin1, lin2 = nn.Linear(1, 4, bias=False), nn.Linear(4, 1, bias=True)
    with torch.no_grad():
        lin1.weight.copy_(torch.tensor([[1.0], [2.0], [3.0], [4.0]]))
        lin2.weight.fill_(1.0)
        lin2.bias.fill_(2.0)
    ann = nn.Sequential(lin1, nn.ReLU(), lin2, nn.ReLU())
    x = torch.tensor([[1.0], [2.0]])
    # layer-1 activity: 1..4 and 2..8 -> percentile 100 = 8 -> weights / 8
    su.normalize_weights(ann, x, ["1", "3"], ["0", "2"], percentile=100)
    assert torch.allclose(lin1.weight, torch.tensor([[1.0], [2.0], [3.0], [4.0]]) / 8)
    # now layer-1 outputs sum to 10/8 and 20/8; layer-2 output = sum + 2 -> max 4.5 -> weight and bias / 4.5
    assert torch.allclose(lin2.weight, torch.full((1, 4), 1 / 4.5))
    assert torch.allclose(lin2.bias, torch.tensor([2 / 4.5]))
    assert not ann[1]._forward_hooks and not ann[3]._forward_hooks


def test_normalize_weights_percentile_uses_numpy_definition():
    lin = nn.Linear(1, 100, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.arange(1.0, 101.0)[:, None])
    ann = nn.Sequential(lin, nn.ReLU())
    su.normalize_weights(ann, torch.ones(1, 1), ["1"], ["0"], percentile=99)
    expected = np.percentile(np.arange(1.0, 101.0), 99)
    assert lin.weight[0, 0].item() == pytest.approx(1 / expected)


def test_normalize_weights_bad_names():
    ann = nn.Sequential(nn.Linear(1, 1), nn.ReLU())
    with pytest.raises(KeyError, match="not a direct child"):
        su.normalize_weights(ann, torch.ones(1, 1), ["relu"], ["0"])


def test_get_activations_and_network_activations(toy_layers):
    _, squeeze = toy_layers
    ann = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU())
    with torch.no_grad():
        ann[0].weight.copy_(torch.eye(2))
    acts = su.get_activations(ann, torch.tensor([[1.0, -1.0]]), ["Input", "1"])
    assert np.allclose(acts[0], [[1.0, -1.0]]) and np.allclose(acts[1], [[1.0, 0.0]])

    snn = nn.Sequential(nn.Identity(), squeeze(batch_size=1))
    spikes = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 3.0]])  # T=3
    counts = su.get_network_activations(snn, spikes, ["Input", "1"])
    assert np.allclose(counts[0], [2000.0, 4000.0]) and np.allclose(counts[1], [2.0, 4.0])
    snn[1].reset_states()
    rates = su.get_network_activations(snn, spikes, ["1"], bRate=True)
    assert np.allclose(rates[0], [2 / 3 * 1000, 4 / 3 * 1000])
    assert not snn[1]._forward_hooks  # removed afterwards (sinabs leaves them registered)
