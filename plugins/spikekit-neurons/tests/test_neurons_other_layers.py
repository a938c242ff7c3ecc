"""Encoders and the non-neuron layers, from their definitions."""

import pytest
import torch

import spikekit.encoders as enc
from spikekit_neurons import ChannelShift, Merge, NeuromorphicReLU, SpikingMaxPooling2dLayer, SumPool2d
from spikekit_neurons.encoders import DeltaEncoder, LatencyEncoder, RateEncoder, RepeatEncoder


def test_encoders_are_registered():
    assert enc.get("rate") is RateEncoder and enc.get("poisson") is RateEncoder
    assert (
        enc.get("latency") is LatencyEncoder and enc.get("delta") is DeltaEncoder and enc.get("repeat") is RepeatEncoder
    )


def test_rate_encoder_mean_follows_probability():
    out = RateEncoder(4000, generator=torch.Generator().manual_seed(0))(torch.tensor([[0.0, 0.25, 1.0, 2.0]]))
    assert out.shape == (1, 4000, 4)
    torch.testing.assert_close(out.mean(1), torch.tensor([[0.0, 0.25, 1.0, 1.0]]), atol=0.03, rtol=0)


def test_latency_encoder_linear_times():
    out = LatencyEncoder(11)(torch.tensor([[1.0, 0.5, 0.1, 0.0]]))
    assert out.sum(1).tolist() == [[1.0, 1.0, 1.0, 0.0]]
    assert out[0].argmax(0)[:3].tolist() == [0, 5, 9]


def test_delta_encoder_hand_sequence():
    out = DeltaEncoder(threshold=0.5)(torch.tensor([[0.0, 0.6, 0.7, 1.2, 0.0]]))
    assert out.tolist() == [[0.0, 1.0, 0.0, 1.0, -1.0]]
    assert DeltaEncoder(0.5, off_spikes=False)(torch.tensor([[0.0, 0.6, 0.0]])).tolist() == [[0.0, 1.0, 0.0]]
    with pytest.raises(ValueError, match="DeltaEncoder: threshold must be a finite number > 0"):
        DeltaEncoder(0.0)


def test_repeat_encoder():
    x = torch.rand(2, 3)
    out = RepeatEncoder(4)(x)
    assert out.shape == (2, 4, 3) and torch.equal(out[:, 2], x)


def test_spiking_max_pool_passes_the_most_active_neuron():
    x = torch.zeros(3, 1, 1, 2)  # (T, C, H, W): neuron 0 spikes at t=0,1; neuron 1 at t=2
    x[0, 0, 0, 0] = x[1, 0, 0, 0] = x[2, 0, 0, 1] = 1
    out = SpikingMaxPooling2dLayer((1, 2))(x)
    assert out.flatten().tolist() == [1.0, 1.0, 0.0]  # at t=2 neuron 1 (count 1) is not the leader (count 2)


def test_sum_pool_is_a_window_sum():
    x = torch.arange(16.0).reshape(1, 1, 4, 4) - 8
    assert SumPool2d(2)(x).flatten().tolist() == [-22.0, -14.0, 10.0, 18.0]


def test_merge_pads_and_channel_shift_prepends():
    out = Merge()(torch.ones(1, 2), torch.ones(1, 3))
    assert out.tolist() == [[2.0, 2.0, 1.0]]
    with pytest.raises(ValueError, match="Merge expects"):
        Merge()(torch.ones(2), torch.ones(1, 2))
    y = ChannelShift(2)(torch.ones(1, 1, 2, 2))
    assert y.shape == (1, 3, 2, 2) and y[:, :2].sum() == 0


def test_neuromorphic_relu_floor_and_activity():
    relu = NeuromorphicReLU(fanout=2)
    x = torch.tensor([[-1.0, 0.5, 2.7], [3.2, 0.0, 1.0]], requires_grad=True)
    out = relu(x)
    assert out.tolist() == [[0.0, 0.0, 2.0], [3.0, 0.0, 1.0]]
    assert relu.activity.item() == 6.0  # (2 + 4) / 2 samples * fanout 2
    out.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 1.0], [1.0, 0.0, 1.0]]  # straight-through behind the ReLU
