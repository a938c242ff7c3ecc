"""Synaptic-operation counts against hand-computed values (Linear, Conv2d with stride / padding / groups, pooling)."""

from __future__ import annotations

import itertools
import warnings

import pytest
import torch
from torch import nn

import spikekit.hooks as hooks
from spikekit.synopcounter import SNNAnalyzer


def brute_force_fanout(conv: nn.Conv2d, in_shape):
    """For every input element, count the (out channel, out position) pairs whose receptive field contains it."""
    c_in, h, w = in_shape
    kh, kw = conv.kernel_size
    sh, sw = conv.stride
    ph, pw = conv.padding
    dh, dw = conv.dilation
    out_h = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    out_w = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    in_per_group = c_in // conv.groups
    out_per_group = conv.out_channels // conv.groups
    fan = torch.zeros(in_shape)
    for co, oy, ox in itertools.product(range(conv.out_channels), range(out_h), range(out_w)):
        g = co // out_per_group
        for ci, ky, kx in itertools.product(range(in_per_group), range(kh), range(kw)):
            y, x = oy * sh - ph + ky * dh, ox * sw - pw + kx * dw
            if 0 <= y < h and 0 <= x < w:
                fan[g * in_per_group + ci, y, x] += 1
    return fan


def run_hook(layer, x):
    hook = hooks.conv_layer_synops_hook if isinstance(layer, nn.Conv2d) else hooks.linear_layer_synops_hook
    layer.register_forward_hook(hook)
    layer(x)
    return layer.hook_data["layer_synops_per_timestep"]


def test_linear_synops_hand_computed():
    layer = nn.Linear(3, 4)
    x = torch.tensor([[1.0, 0.0, 2.0], [3.0, 1.0, 0.0]])
    # mean over the batch: [2, 0.5, 1] -> 3.5 input spikes per sample, each to 4 neurons
    assert run_hook(layer, x).item() == pytest.approx(14.0)


def test_conv_connection_map_valid_3x3():
    cmap = hooks.conv_connection_map(nn.Conv2d(1, 1, 3), (1, 4, 4), (1, 2, 2))
    row = torch.tensor([1.0, 2.0, 2.0, 1.0])
    assert cmap.shape == (1, 1, 4, 4)
    assert torch.equal(cmap[0, 0], row[:, None] * row[None, :])


@pytest.mark.parametrize(
    "conv, in_shape",
    [
        (nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 4, 4)),
        (nn.Conv2d(4, 6, 3, padding=1, groups=2), (4, 3, 3)),
        (nn.Conv2d(2, 4, (3, 2), stride=(1, 2), padding=(0, 1), dilation=(2, 1)), (2, 7, 6)),
        (nn.Conv2d(3, 3, 5, stride=3, padding=2, groups=3), (3, 8, 9)),
    ],
)
def test_conv_connection_map_matches_brute_force(conv, in_shape):
    out_shape = conv(torch.zeros(1, *in_shape)).shape[1:]
    assert torch.equal(hooks.conv_connection_map(conv, in_shape, out_shape)[0], brute_force_fanout(conv, in_shape))


def test_conv_synops_stride_padding_hand_computed():
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1)
    # 1-D fan-out of a length-4 axis with k=3, s=2, p=1: outputs cover inputs {0,1} and {1,2,3} -> [1, 2, 1, 1]
    x = torch.zeros(2, 2, 4, 4)
    x[0, 0, 0, 0] = 1.0  # fan-out 3 channels * 1 * 1
    x[0, 1, 3, 3] = 2.0  # 2 spikes * 3 * 1 * 1
    x[1, 0, 1, 1] = 1.0  # 3 * 2 * 2 = 12
    assert run_hook(conv, x).item() == pytest.approx((3 + 6 + 12) / 2)


def test_conv_synops_groups_hand_computed():
    conv = nn.Conv2d(4, 6, 3, padding=1, groups=2)
    # each input channel reaches 3 output channels; spatial fan-out on a 3-long axis with k=3, p=1: [2, 3, 2]
    x = torch.zeros(1, 4, 3, 3)
    x[0, 0, 1, 1] = 1.0  # centre: 3 * 3 * 3 = 27
    x[0, 3, 0, 2] = 1.0  # corner: 3 * 2 * 2 = 12
    assert run_hook(conv, x).item() == pytest.approx(39.0)


def test_conv_map_rebuilt_when_shape_changes():
    conv = nn.Conv2d(1, 1, 3)
    conv.register_forward_hook(hooks.conv_layer_synops_hook)
    conv(torch.ones(1, 1, 4, 4))
    assert conv.hook_data["connection_map"].shape == (1, 1, 4, 4)
    conv(torch.ones(5, 1, 5, 5))  # 5x5 valid 3x3: fan-out rows [1,2,3,2,1] -> total 9 * 9
    assert conv.hook_data["connection_map"].shape == (1, 1, 5, 5)
    assert conv.hook_data["layer_synops_per_timestep"].item() == pytest.approx(81.0)


def test_avgpool_scaling_in_model_hook():
    model = nn.Sequential(nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4, 5))
    hooks.register_synops_hooks(model, dt=0.5)
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 0, 0] = 1.0
    x[0, 0, 3, 2] = 3.0  # 4 spikes, each reaching 5 neurons once pooling is a sum again
    model(x)
    lin = model[2]
    assert lin.hook_data["layer_synops_per_timestep"].item() == pytest.approx(4 / 4 * 5)
    assert lin.hook_data["synops_per_timestep"].item() == pytest.approx(20.0)
    assert model.hook_data["synops_per_timestep"][2].item() == pytest.approx(20.0)
    assert model.hook_data["total_synops_per_timestep"].item() == pytest.approx(20.0)
    assert model.hook_data["total_synops_per_second"].item() == pytest.approx(40.0)


def test_avgpool_scaling_resets_at_every_weighted_layer():
    model = nn.Sequential(
        nn.AvgPool2d(2), nn.AvgPool2d(2), nn.Conv2d(1, 1, 1), nn.Conv2d(1, 2, 1), nn.Flatten(), nn.Linear(2, 1)
    )
    hooks.register_synops_hooks(model)
    with torch.no_grad():
        for conv in (model[2], model[3]):
            conv.weight.fill_(1.0)
            conv.bias.zero_()
    x = torch.ones(1, 1, 4, 4)  # 16 spikes
    model(x)
    per_layer = model.hook_data["synops_per_timestep"]
    assert per_layer[2].item() == pytest.approx(16.0)  # 1 value, 1 connection, times 4 * 4
    assert per_layer[3].item() == pytest.approx(2.0)  # not rescaled: the pending factors ended at layer 2
    assert set(per_layer) == {2, 3, 5}


def test_avgpool_kernel_not_stride_warns():
    model = nn.Sequential(nn.AvgPool2d(2, stride=1), nn.Flatten(), nn.Linear(9, 2))
    hooks.register_synops_hooks(model)
    with pytest.warns(UserWarning, match="kernel size should match their strides"):
        model(torch.ones(1, 1, 4, 4))


def test_synop_hooks_keep_the_graph():
    lin = nn.Linear(3, 4)
    lin.register_forward_hook(hooks.linear_layer_synops_hook)
    x = torch.rand(2, 3, requires_grad=True)
    lin(x)
    lin.hook_data["layer_synops_per_timestep"].backward()
    assert torch.allclose(x.grad, torch.full_like(x, 4 / 2))


# ---------------------------------------------------------------------------------------------------- SNNAnalyzer
def _analyzer(model):
    with pytest.warns(DeprecationWarning, match="spikekit.hooks"):
        return SNNAnalyzer(model)


def test_snn_analyzer_hand_computed(toy_layers):
    _, squeeze = toy_layers
    model = nn.Sequential(nn.Linear(2, 3, bias=False), squeeze(batch_size=1), nn.Linear(3, 1, bias=False))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[2].weight.fill_(1.0)
    analyzer = _analyzer(model)
    x = torch.tensor([[1.0, 0.0], [1.0, 1.0]])  # (B*T, 2) with B=1, T=2 -> drive 1, 2 -> spikes 1, 2
    model(x)
    layer = analyzer.get_layer_statistics()
    spiking = layer["spiking"]["1"]
    assert spiking["n_neurons"] == 3
    assert torch.equal(spiking["output"], torch.tensor([[[1.0] * 3, [2.0] * 3]]))
    assert spiking["firing_rate"].item() == pytest.approx(1.5)
    assert layer["parameter"]["0"]["synops"].item() == pytest.approx(3 * 3)  # 3 input spikes, fan-out 3
    assert layer["parameter"]["2"]["synops"].item() == pytest.approx(9 * 1)  # 9 spikes, fan-out 1
    assert layer["parameter"]["0"]["num_timesteps"] == 2
    assert layer["parameter"]["0"]["synops/s"].item() == pytest.approx(9 / 2 * 1000)
    model_stats = analyzer.get_model_statistics()
    assert model_stats["synops"].item() == pytest.approx(18.0)
    assert model_stats["n_spiking_neurons"].item() == 3
    assert model_stats["firing_rate"].item() == pytest.approx(1.5)


def test_snn_analyzer_average_and_reset(toy_layers):
    _, squeeze = toy_layers
    model = nn.Sequential(nn.Linear(1, 2, bias=False), squeeze(batch_size=1))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
    analyzer = _analyzer(model)
    model(torch.tensor([[1.0], [0.0]]))
    model(torch.tensor([[3.0], [3.0]]))
    stats = analyzer.get_layer_statistics(average=True)["parameter"]["0"]
    assert stats["synops"].item() == pytest.approx((1 * 2 + 6 * 2) / 2)
    analyzer.reset()
    assert model[0].n_batches == 0
    assert analyzer.get_model_statistics()["synops"].item() == 0.0


def test_snn_analyzer_model_synops_include_avgpool_scaling(toy_layers):
    """Fix of sinabs §11.10: the model total equals the sum of the (scaled) layer numbers."""
    _, squeeze = toy_layers
    model = nn.Sequential(squeeze(batch_size=1), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(1, 2, bias=False))
    analyzer = _analyzer(model)
    model(torch.ones(1, 1, 2, 2))  # 4 spikes -> averaged to 1.0 -> 2 synops counted, times 4
    layer_synops = analyzer.get_layer_statistics()["parameter"]["3"]["synops"].item()
    assert layer_synops == pytest.approx(8.0)
    assert analyzer.get_model_statistics()["synops"].item() == pytest.approx(8.0)


def test_snn_analyzer_without_time_dimension_gives_inf_rate():
    model = nn.Sequential(nn.Linear(2, 2))
    analyzer = _analyzer(model)
    model(torch.ones(3, 2))
    stats = analyzer.get_layer_statistics()["parameter"]["0"]
    assert stats["num_timesteps"] == 0
    assert stats["synops/s"].item() == float("inf")


def test_snn_analyzer_synops_usable_in_a_loss(toy_layers):
    _, squeeze = toy_layers
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), squeeze(batch_size=2), nn.Linear(3, 1))
    x = torch.rand(6, 2) * 3
    analyzer = _analyzer(model)
    model(x)
    loss = analyzer.get_model_statistics()["synops"]
    loss.backward()  # reaches the first layer's weights through the spikes' surrogate gradient
    grad = model[0].weight.grad.clone()
    # The first layer's synops (input x fan-out 3, per sample) do not depend on its weights; the last layer's are the
    # hidden spikes times fan-out 1 per sample: the same gradient as that of spikes.sum() / batch_size.
    model.zero_grad()
    model[1].reset_states()
    (model[1](model[0](x)).sum() / 2).backward()
    assert grad.abs().sum() > 0
    assert torch.allclose(grad, model[0].weight.grad)


def test_synopcounter_deprecation_names_itself():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            from spikekit.synopcounter import SynOpCounter

            SynOpCounter([nn.ReLU()])
        except ValueError as exc:
            assert "NeuromorphicReLU" in str(exc)
        except ImportError:
            pytest.skip("spikekit-neurons not installed")
    messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert any(m.startswith("SynOpCounter is deprecated") for m in messages)
