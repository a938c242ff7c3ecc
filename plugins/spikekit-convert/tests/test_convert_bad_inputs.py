"""Converters given what they cannot use: each refusal names the function (and layer), the argument, what was
expected and what came."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import spikekit as sk
import spikekit.layers as sl
import spikekit.utils as su


def ann():
    return nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3), nn.ReLU())


@pytest.mark.parametrize("bad", ["model", None, 3, [nn.Linear(2, 2)]])
def test_from_model_needs_a_module(bad):
    with pytest.raises(TypeError, match=rf"from_model: model must be a torch.nn.Module, got {type(bad).__name__}"):
        sk.from_model(bad)


@pytest.mark.parametrize(("shape", "error"), [("2x8x8", TypeError), ((2, 0, 8), ValueError), ((2, 8.5, 8), ValueError)])
def test_from_model_input_shape_must_be_positive_ints(shape, error):
    with pytest.raises(error, match="from_model: input_shape"):
        sk.from_model(ann(), input_shape=shape)


def test_input_shape_that_does_not_fit_names_the_layer():
    with pytest.raises(RuntimeError) as info:  # the layer's own error class, so existing handlers still catch it
        sk.from_model(ann(), input_shape=(3, 8, 8), batch_size=1)
    text = str(info.value)
    assert "input_shape (3, 8, 8) does not fit the model" in text
    assert "layer '0' (Conv2d) failed on input of shape (1, 3, 8, 8)" in text
    with pytest.raises(RuntimeError, match=r"layer '3' \(Linear\)"):
        sk.from_model(ann(), input_shape=(2, 9, 9), batch_size=1)


def test_a_fitting_input_shape_still_records_shapes():
    net = sk.from_model(ann(), input_shape=[2, 8, 8], batch_size=1)
    assert net.input_shape == [2, 8, 8]  # kept as given, as sinabs keeps it
    assert tuple(net.spiking_model[3].out_shape) == (3,)


@pytest.mark.parametrize("value", [0, 0.0, float("inf"), float("nan"), torch.tensor(0.0)])
def test_bias_rescaling_must_be_a_finite_non_zero_divisor(value):
    with pytest.raises(ValueError, match="from_model: bias_rescaling divides the biases"):
        sk.from_model(ann(), bias_rescaling=value, batch_size=1)


def test_bias_rescaling_tensor_accepted_as_sinabs_does():
    model = ann()
    net = sk.from_model(model, bias_rescaling=torch.tensor(2.0), batch_size=1)
    assert torch.allclose(net.spiking_model[0].bias, model[0].bias / 2)


def test_network_needs_modules():
    with pytest.raises(TypeError, match="Network: spiking_model must be a torch.nn.Module, got str"):
        sk.Network(ann(), "snn")
    with pytest.raises(TypeError, match="Network: analog_model must be a torch.nn.Module, got int"):
        sk.Network(3, nn.Sequential(sl.IAFSqueeze(batch_size=1)))


def test_normalize_weights_refuses_a_zero_constant():
    model = nn.Sequential(nn.Linear(3, 3), nn.ReLU())
    with torch.no_grad():
        model[0].weight.fill_(-1.0)
        model[0].bias.fill_(0.0)
    before = model[0].weight.clone()
    with pytest.raises(ValueError, match=r"percentile of layer '1'.*is 0.0.*parameters of '0'.*positive finite"):
        su.normalize_weights(model, torch.rand(4, 3), ["1"], ["0"])
    assert torch.equal(model[0].weight, before)  # nothing became inf


@pytest.mark.parametrize("percentile", [-1, 101, "99", float("nan")])
def test_normalize_weights_percentile_range(percentile):
    with pytest.raises(ValueError, match="normalize_weights: percentile must be a number in \\[0, 100\\]"):
        su.normalize_weights(ann(), torch.rand(2, 2, 8, 8), ["1"], ["0"], percentile=percentile)


def test_normalize_weights_needs_a_module():
    with pytest.raises(TypeError, match="normalize_weights: ann must be a torch.nn.Module, got dict"):
        su.normalize_weights({}, torch.rand(2, 3), ["1"], ["0"])


def test_network_without_a_model_says_which_one_is_missing():
    only_ann = sk.Network(ann())
    with pytest.raises(ValueError, match="needs the spiking model"):
        only_ann(torch.zeros(1, 4))
    only_snn = sk.Network(spiking_model=nn.Sequential(nn.Linear(4, 2), sl.IAFSqueeze(batch_size=1)))
    with pytest.raises(ValueError, match="needs the analog model"):
        only_snn.compare_activations(torch.zeros(3, 4), name_list=["Input"])
