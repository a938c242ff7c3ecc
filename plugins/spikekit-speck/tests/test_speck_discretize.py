"""Discretisation: the scale formula, one common scale per layer, rounding."""

import torch
from torch import nn

import spikekit.layers as sl
from spikekit_speck import determine_discretization_scale, discretize_conv_spike, discretize_params


def iaf(batch_size=1, **kwargs):
    return sl.IAFSqueeze(batch_size=batch_size, **kwargs)


def test_scale_positive_side_dominates():
    # max 0.5, min -0.25: |min| <= |max|*128/127 -> 127/0.5
    assert float(determine_discretization_scale(torch.tensor([-0.25, 0.5]), 8)) == 254.0


def test_scale_negative_side_dominates():
    # min -1, max 0.5 -> 128/1
    assert float(determine_discretization_scale(torch.tensor([-1.0, 0.5]), 8)) == 128.0
    # 16 bits: min -2 -> 32768/2
    assert float(determine_discretization_scale(torch.tensor([-2.0, 1.0]), 16)) == 16384.0


def test_common_scale_is_the_smallest():
    w = torch.tensor([0.5, -0.1]).reshape(2, 1, 1, 1)
    b = torch.tensor([0.1, 0.0])
    p = discretize_params(w, b, threshold=1.0, min_v_mem=-1.0)
    # weight scale 254, bias scale 1270, thresholds (-1, 1): 32767 -> common 254
    assert p.scale == 254.0
    assert p.weight.flatten().tolist() == [127.0, round(-0.1 * 254)]
    assert p.bias.tolist() == [round(0.1 * 254), 0.0]
    assert (p.threshold, p.min_v_mem) == (254, -254)


def test_threshold_limits_scale():
    w = torch.full((1, 1, 1, 1), 0.001)
    p = discretize_params(w, None, threshold=10.0, min_v_mem=None)
    # thresholds (-32768, 10): |min| dominates -> scale 1 ; weight scale 127000 -> common 1
    assert p.scale == 1.0 and p.threshold == 10 and p.min_v_mem == -32768
    assert p.weight.item() == 0.0


def test_discretize_conv_spike_leaves_inputs_and_is_integer():
    conv = nn.Conv2d(2, 3, 3)
    spk = iaf(min_v_mem=-1.0, spike_threshold=1.5)
    c2, s2 = discretize_conv_spike(conv, spk)
    assert torch.equal(c2.weight, torch.round(c2.weight))
    assert c2.weight.abs().max() <= 128 and c2.bias.abs().max() <= 128
    assert float(spk.spike_threshold) == 1.5  # original untouched
    scale = float(s2.spike_threshold) / 1.5
    assert abs(scale * conv.weight.abs().max().item() - c2.weight.abs().max().item()) <= 0.5 + 1e-4
