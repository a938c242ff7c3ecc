"""from_model and Network with a spiking layer class that only satisfies the core's protocols (a third party's),
plus the default (spikekit-neurons) path when it is installed."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import spikekit as sk
from spikekit.from_torch import from_model
from spikekit.network import Network


def small_ann():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8, 3), nn.ReLU()
    )


def test_relus_replaced_with_given_class_and_kwargs(toy_layers, toy_activation):
    _, squeeze = toy_layers
    ann = small_ann()
    net = from_model(ann, spike_layer_class=squeeze, batch_size=2, min_v_mem=-0.5, **toy_activation)
    snn = net.spiking_model
    assert isinstance(net, Network) and net.analog_model is ann
    assert [type(m) for m in snn] == [nn.Conv2d, squeeze, nn.AvgPool2d, nn.Flatten, nn.Linear, squeeze]
    assert snn[1].batch_size == 2 and snn[1].num_timesteps == -1
    assert snn[1].min_v_mem == -0.5 and snn[1].spike_fn is toy_activation["spike_fn"]
    assert type(ann[1]) is nn.ReLU  # the ANN is untouched
    assert torch.equal(snn[0].weight, ann[0].weight) and snn[0].weight is not ann[0].weight


def test_non_squeeze_class_gets_no_batch_kwargs(toy_layers, toy_activation):
    plain, _ = toy_layers
    net = from_model(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), spike_layer_class=plain, **toy_activation)
    assert isinstance(net.spiking_model[1], plain)


def test_squeeze_class_without_batch_or_time_fails(toy_layers, toy_activation):
    _, squeeze = toy_layers
    with pytest.raises(TypeError, match="batch_size or num_timesteps"):
        from_model(nn.Sequential(nn.ReLU()), spike_layer_class=squeeze, **toy_activation)


def test_threshold_not_shared_between_layers(toy_layers, toy_activation):
    _, squeeze = toy_layers
    thr = torch.tensor(2.0)
    net = from_model(small_ann(), spike_layer_class=squeeze, num_timesteps=3, spike_threshold=thr, **toy_activation)
    a, b = net.spiking_model[1], net.spiking_model[5]
    with torch.no_grad():
        a.spike_threshold.mul_(5)
    assert b.spike_threshold.item() == 2.0 and thr.item() == 2.0


def test_add_spiking_output_and_bias_rescaling(toy_layers, toy_activation):
    _, squeeze = toy_layers
    ann = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
    net = from_model(
        ann, spike_layer_class=squeeze, batch_size=1, add_spiking_output=True, bias_rescaling=4.0, **toy_activation
    )
    snn = net.spiking_model
    assert isinstance(snn.spike_output, squeeze) and len(snn) == 4
    assert torch.allclose(snn[0].bias * 4, ann[0].bias) and torch.allclose(snn[2].bias * 4, ann[2].bias)
    with pytest.warns(UserWarning, match="Spiking output can only be added"):
        from_model(small_ann(), spike_layer_class=squeeze, batch_size=1, add_spiking_output=True, **toy_activation)


def test_network_shape_probe(toy_layers, toy_activation):
    _, squeeze = toy_layers
    net = from_model(small_ann(), input_shape=(1, 4, 4), spike_layer_class=squeeze, batch_size=2, **toy_activation)
    snn = net.spiking_model
    assert snn[0].out_shape == (2, 4, 4) and snn[4].out_shape == (3,)
    assert snn[1].v_mem.shape == (2, 2, 4, 4)  # states created by the (B*T = 2) probe


def test_network_reset_states_value_ranges(toy_layers, toy_activation):
    _, squeeze = toy_layers
    net = from_model(small_ann(), input_shape=(1, 4, 4), spike_layer_class=squeeze, batch_size=1, **toy_activation)
    net.reset_states(randomize=True, value_ranges=[{"v_mem": (5.0, 6.0)}, {"v_mem": (-2.0, -1.0)}])
    v1, v2 = net.spiking_model[1].v_mem, net.spiking_model[5].v_mem
    assert v1.min() >= 5 and v1.max() <= 6 and v2.min() >= -2 and v2.max() <= -1
    with pytest.raises(TypeError, match="value_ranges has 1 entries"):
        net.reset_states(randomize=True, value_ranges=[{}])
    net.reset_states()
    assert torch.all(net.spiking_model[1].v_mem == 0) and torch.all(net.spiking_model[5].v_mem == 0)


def test_network_zero_grad_detaches_states(toy_layers, toy_activation):
    _, squeeze = toy_layers
    net = from_model(small_ann(), spike_layer_class=squeeze, batch_size=1, **toy_activation)
    torch.manual_seed(1)
    net(torch.rand(3, 1, 4, 4) * 3).sum().backward()  # drive near the threshold, where the surrogate is non-zero
    assert net.spiking_model[0].weight.grad.abs().sum() > 0
    assert net.spiking_model[1].v_mem.requires_grad
    net.zero_grad()
    assert torch.all(net.spiking_model[0].weight.grad == 0)  # sinabs's default: zeroed, not set to None
    assert net.spiking_model[1].v_mem.grad_fn is None and not net.spiking_model[1].v_mem.requires_grad
    assert not net.spiking_model[0].weight.grad.any()


def test_get_synops_works(toy_layers, toy_activation):
    """Fix of sinabs §11.9: Network.get_synops returns the SNNAnalyzer's per-layer numbers."""
    _, squeeze = toy_layers
    with pytest.warns(DeprecationWarning):
        net = from_model(small_ann(), spike_layer_class=squeeze, batch_size=1, synops=True, **toy_activation)
    x = (torch.rand(5, 1, 4, 4) > 0.5).float()
    net(x)
    synops = net.get_synops()
    assert set(synops) == {"0", "4"}
    # conv input: spikes summed over time, fan-out map of a 3x3 'same' conv with 2 output channels
    fan = torch.tensor([2.0, 3.0, 3.0, 2.0])
    expected = (x.sum(0)[0] * (fan[:, None] * fan[None, :]) * 2).sum()
    assert synops["0"]["synops"].item() == pytest.approx(expected.item())
    with pytest.raises(RuntimeError, match="synops=True"):
        from_model(small_ann(), spike_layer_class=squeeze, batch_size=1, **toy_activation).get_synops()


def test_compare_activations(toy_layers, toy_activation):
    _, squeeze = toy_layers
    ann = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    net = from_model(ann, spike_layer_class=squeeze, batch_size=1, **toy_activation)
    data = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    analog, spiking, names = net.compare_activations(data)
    assert names == ["Input", "1"]
    assert analog[0].shape == (1, 2) and spiking[0].shape == (2,)
    assert analog[1].shape == (1, 2) and spiking[1].shape == (2,)


def test_backend_argument_is_deprecated(toy_layers):
    with pytest.warns(UserWarning, match="deprecated"), pytest.raises(ValueError, match="unknown backend"):
        from_model(nn.Sequential(nn.ReLU()), backend="no-such-backend", batch_size=1)


# ----------------------------------------------------------------------- defaults: need spikekit-neurons installed
def _neurons(name="IAFSqueeze"):
    import spikekit.layers as sl

    try:
        return getattr(sl, name)
    except (ImportError, AttributeError):
        pytest.skip(f"spikekit.layers.{name} (spikekit-neurons) is not installed")


def test_defaults_resolve_through_namespaces():
    iaf_squeeze = _neurons()
    import spikekit.activation as sa

    net = sk.from_model(small_ann(), batch_size=2)
    layer = net.spiking_model[1]
    assert type(layer) is iaf_squeeze
    assert layer.spike_fn is sa.MultiSpike and isinstance(layer.reset_fn, sa.MembraneSubtract)
    assert isinstance(layer.surrogate_grad_fn, sa.SingleExponential)
    assert float(layer.min_v_mem) == -1.0 and float(layer.spike_threshold) == 1.0
    with torch.no_grad():
        layer.spike_threshold.add_(1.0)
    assert float(net.spiking_model[5].spike_threshold) == 1.0  # not storage-shared (sinabs §11.11)
    assert float(sk.from_model(small_ann(), batch_size=2).spiking_model[1].spike_threshold) == 1.0


def test_neuromorphic_relu_is_replaced():
    iaf_squeeze = _neurons()
    neuromorphic_relu = _neurons("NeuromorphicReLU")

    ann = nn.Sequential(nn.Linear(2, 2), neuromorphic_relu(), nn.Linear(2, 2), nn.ReLU())
    snn = sk.from_model(ann, num_timesteps=4).spiking_model
    assert type(snn[1]) is iaf_squeeze and type(snn[3]) is iaf_squeeze and snn[1].num_timesteps == 4


def test_backend_sinabs_means_iafsqueeze():
    iaf_squeeze = _neurons()
    with pytest.warns(UserWarning, match="deprecated"):
        net = sk.from_model(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), backend="sinabs", batch_size=1)
    assert type(net.spiking_model[1]) is iaf_squeeze


def _converted_pair(**kwargs):
    torch.manual_seed(1)
    ann = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3), nn.ReLU())
    return ann, sk.from_model(ann, batch_size=2, **kwargs)


def test_layers_get_their_compute_backend():
    _neurons()
    ann, net = _converted_pair(kwargs_backend={"backend": "torch"})
    assert net.spiking_model[1].backend == "torch"
    with pytest.warns(UserWarning, match="deprecated"):
        net2 = sk.from_model(ann, batch_size=2, backend="torch")
    assert net2.spiking_model[3].backend == "torch"


@pytest.mark.parametrize("backend", ["fused-cpu"])
def test_converted_network_runs_on_another_backend(backend):
    _neurons()
    if backend not in sk.available_backends():
        pytest.skip(f"backend {backend!r} is not installed")
    _, net = _converted_pair()
    x = torch.rand(2 * 7, 4) * 2
    reference = net(x)
    net.reset_states()
    with sk.use_backend(backend, fallback="error"):
        other = net(x)
    assert torch.allclose(reference, other)
