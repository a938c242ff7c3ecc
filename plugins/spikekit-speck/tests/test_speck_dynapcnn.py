"""sinabs's ``sinabs.backend.dynapcnn`` API served by spikekit-speck (no sinabs, no samna needed).

Behaviour checked against independent references: the float model (BatchNorm folding, discretize=False), the
chip simulator (the discretised forward), hand-built flow instances (mapping), and a recording fake of samna's
configuration objects (make_config).
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest
import torch
from torch import nn

import spikekit.layers as sl

SUBMODULES = [
    "chips", "config_builder", "crop2d", "discretize", "dvs_layer", "dynapcnn_layer", "dynapcnn_network",
    "dynapcnnnetwork_module", "exceptions", "flipdims", "mapping", "nir_graph_extractor", "utils",
    "weight_rescaling_methods",
]  # fmt: skip


def iaf(**kw):
    kw.setdefault("batch_size", 2)
    kw.setdefault("min_v_mem", -1.0)
    return sl.IAFSqueeze(**kw)


def net_cls():
    from spikekit.backend.dynapcnn import DynapcnnNetwork

    return DynapcnnNetwork


def seeded(model, low=-0.5, high=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                for p in m.parameters():
                    p.copy_(torch.rand(p.shape, generator=g) * (high - low) + low)
    return model


def spikes(shape, steps=4, batch=2, seed=0, high=3):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, high, (batch * steps, *shape), generator=g).float()


@pytest.mark.parametrize("name", SUBMODULES)
def test_every_submodule_imports_under_sinabs_path(name):
    module = importlib.import_module(f"spikekit.backend.dynapcnn.{name}")
    assert module is importlib.import_module(f"spikekit_speck.dynapcnn.{name}")  # an alias, not a copy
    import spikekit.backend.dynapcnn as ns

    assert getattr(ns, name) is module


def test_from_imports_and_nested_submodules():
    from spikekit.backend.dynapcnn.chips.speck2f import Speck2FConfigBuilder
    from spikekit.backend.dynapcnn.dvs_layer import DVSLayer
    from spikekit.backend.dynapcnn.exceptions import InvalidEdge
    from spikekit_speck.dvs import DVSLayer as EngineDVSLayer
    from spikekit_speck.dynapcnn.chips.speck2f import Speck2FConfigBuilder as Same

    assert Speck2FConfigBuilder is Same and DVSLayer is EngineDVSLayer  # the façade names the engine's class
    assert issubclass(InvalidEdge, Exception)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("spikekit.backend.dynapcnn.no_such_module")


def test_import_spikekit_still_imports_no_plugin():
    code = (
        "import sys, spikekit, spikekit.backend.dynapcnn;"
        "bad = [m for m in sys.modules if m.startswith('spikekit_')]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_network_attributes_printed_form_and_state_dict_keys():
    model = seeded(nn.Sequential(nn.Conv2d(2, 4, 3), iaf(), sl.SumPool2d(2), nn.Flatten(), nn.Linear(36, 3), iaf()))
    net = net_cls()(model, input_shape=(2, 8, 8))
    assert list(net.dynapcnn_layers) == [0, 1] and not net.has_dvs_layer() and net.dvs_layer is None
    assert net.layer2core_map is None
    with pytest.warns(DeprecationWarning):
        assert net.chip_layers_ordering is None
    assert net.layer_destination_map == {0: [1], 1: [-1]} and net.exit_layer_ids == [1]
    assert net.dynapcnn_layers[0].pool == [[2, 2]]
    assert sorted(net.state_dict()) == sorted(
        f"_dynapcnn_module._dynapcnn_layers.{i}.{k}"
        for i in (0, 1)
        for k in ("conv.weight", "conv.bias", "spk.v_mem", "spk.spike_threshold", "spk.min_v_mem")
    )
    text = str(net)
    assert "[ DynapcnnLayer 0 ]" in text and "[ DynapcnnLayer 1 ]" in text
    assert repr(net).startswith("DynapCNN Network containing:\nDVS Layer: None")
    assert isinstance(net.parameters(), list) and len(net.parameters()) == 4


def test_a_network_wrapper_is_replaced_by_its_spiking_model():
    network_module = pytest.importorskip("spikekit.network")
    try:
        network_cls = network_module.Network
    except (ImportError, AttributeError):  # PluginNotInstalledError: an AttributeError on attribute access
        pytest.skip("spikekit-convert (which provides Network) is not installed")
    snn = seeded(nn.Sequential(nn.Conv2d(2, 4, 3), iaf()))
    wrapped = network_cls(nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU()), snn)
    net = net_cls()(wrapped, input_shape=(2, 8, 8))
    assert torch.equal(
        net.dynapcnn_layers[0].conv.weight, net_cls()(snn, input_shape=(2, 8, 8)).dynapcnn_layers[0].conv.weight
    )


def test_batchnorm_is_folded_into_the_weights():
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(4)
    bn.running_mean.uniform_(-0.2, 0.2)
    bn.running_var.uniform_(0.5, 2.0)
    bn.weight.data.uniform_(0.5, 1.5)
    bn.bias.data.uniform_(-0.1, 0.1)
    conv = nn.Conv2d(2, 4, 3)
    model = nn.Sequential(conv, bn, iaf()).eval()
    net = net_cls()(model, input_shape=(2, 6, 6), discretize=False)
    folded = net.dynapcnn_layers[0].conv
    x = torch.rand(3, 2, 6, 6)
    factor = bn.weight / bn.running_var.sqrt()  # sinabs's folding (without eps)
    expected = (conv(x) - bn.running_mean[:, None, None]) * factor[:, None, None] + bn.bias[:, None, None]
    torch.testing.assert_close(folded(x), expected)


def test_state_is_carried_across_calls_until_reset_states():
    model = seeded(nn.Sequential(nn.Conv2d(2, 4, 3), iaf(spike_threshold=3.0)))
    net = net_cls()(model, input_shape=(2, 6, 6), discretize=False)
    x = spikes((2, 6, 6), steps=3)
    first = net(x).clone()
    second = net(x)
    assert not torch.equal(first, second)  # the membrane kept its charge
    net.reset_states()
    torch.testing.assert_close(net(x), first)
    # the same as one call over the concatenated time steps (batch of 2, 6 steps)
    net.reset_states()
    both = torch.cat([x.reshape(2, 3, 2, 6, 6), x.reshape(2, 3, 2, 6, 6)], 1).reshape(12, 2, 6, 6)
    whole = net(both).reshape(2, 6, 4, 4, 4)
    torch.testing.assert_close(whole[:, 3:].reshape(6, 4, 4, 4), second)


def test_discretized_forward_equals_the_chip_simulator_and_accepts_float_input():
    from spikekit_speck import ChipSimulator

    model = seeded(
        nn.Sequential(nn.Conv2d(2, 4, 3), iaf(), sl.SumPool2d(2), nn.Conv2d(4, 3, 3, padding=1), iaf()), seed=3
    )
    net = net_cls()(model, input_shape=(2, 8, 8))
    config = net.make_json_config(device="speck2fdevkit:0")
    x = spikes((2, 8, 8), steps=5, high=4)
    sim = ChipSimulator(config, saturate=False)(x.reshape(2, 5, 2, 8, 8))  # sinabs does not clip the state
    out = net(x)
    assert out.sum() > 0
    torch.testing.assert_close(out, sim.reshape(out.shape).float())
    net.reset_states()
    assert net(x + 0.25).shape == out.shape  # float input is run as given, as in sinabs


def test_training_with_discretize_false_over_several_backward_passes():
    model = seeded(nn.Sequential(nn.Conv2d(2, 4, 3), iaf(), nn.Flatten(), nn.Linear(64, 2), iaf()), -0.1, 0.2)
    net = net_cls()(model, input_shape=(2, 6, 6), discretize=False)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    before = [p.detach().clone() for p in net.parameters()]
    for step in range(3):
        opt.zero_grad()
        net.zero_grad()  # detaches the states carried from the last call
        assert all(not b.requires_grad or b.grad_fn is None for b in net.buffers())
        out = net(spikes((2, 6, 6), steps=4, seed=step))
        (-out.sum()).backward()  # a second backward would fail if the states kept the old graph
        assert sum(float(p.grad.abs().sum()) for p in net.parameters()) > 0, step
        opt.step()
    assert any(not torch.equal(a, p) for a, p in zip(before, net.parameters()))


def test_dvs_layer_pooling_before_first_conv_and_dvs_input():
    from spikekit.backend.dynapcnn import DVSLayer

    model = seeded(nn.Sequential(sl.SumPool2d(2), nn.Conv2d(2, 4, 3), iaf()))
    net = net_cls()(model, input_shape=(2, 16, 16), dvs_input=True)
    assert net.has_dvs_layer() and net.dvs_layer.get_pooling() == (2, 2)
    assert net.dvs_layer.disable_pixel_array is False
    # As in sinabs, the DVS layer takes part in the topological numbering: the first DynapcnnLayer is number 1.
    assert list(net.dynapcnn_layers) == [1] and net.layer_destination_map["dvs"] == [1]
    x = spikes((2, 16, 16))
    reference = DVSLayer((16, 16), pool=(2, 2))(x)
    net.reset_states()
    layer_out = net.dynapcnn_layers[1](reference)
    net.reset_states()
    torch.testing.assert_close(net(x), layer_out)


def test_dvs_layer_behaviour():
    from spikekit.backend.dynapcnn import DVSLayer
    from spikekit.backend.dynapcnn.crop2d import Crop2d
    from spikekit.backend.dynapcnn.flipdims import FlipDims

    x = torch.arange(2 * 2 * 8 * 6, dtype=torch.float).reshape(2, 2, 8, 6)
    dvs = DVSLayer((8, 6), pool=(2, 1), crop=((1, 3), (0, 4)), merge_polarities=False, flip_x=True, swap_xy=True)
    pooled = x[:, :, 0::2] + x[:, :, 1::2]
    expected = pooled[:, :, 1:3, 0:4].flip(3).transpose(2, 3)
    assert torch.equal(dvs(x), expected)
    merged = DVSLayer((8, 6), merge_polarities=True)
    assert torch.equal(merged(x[:, :1]), x[:, :1])
    again = DVSLayer.from_layers((2, 8, 6), sl.SumPool2d((2, 1)), Crop2d(((1, 3), (0, 4))), FlipDims(True, False, True))
    assert again.get_config_dict() == dvs.get_config_dict()
    with pytest.raises(ValueError, match="does not fit the pooled frame"):
        DVSLayer((8, 8), crop=((0, 9), (0, 8)))


def test_refusals_raise_sinabs_classes_naming_the_layer():
    from spikekit.backend.dynapcnn import exceptions as exc

    cases = [
        (nn.Sequential(nn.Conv2d(2, 4, 3), sl.IAF()), exc.UnsupportedLayerType, "'1'"),
        (nn.Sequential(nn.Conv2d(2, 4, 3), nn.Conv2d(4, 4, 3), iaf()), exc.InvalidEdge, "'0', '1'"),
        (nn.Sequential(sl.SumPool2d(2), nn.Conv2d(2, 4, 3), iaf()), exc.InvalidGraphStructure, "'0'"),
        (nn.Sequential(nn.Conv2d(2, 4, (3, 1)), iaf()), ValueError, "Conv2d '0'"),
        (nn.Sequential(nn.Conv2d(2, 4, 3), iaf(), nn.BatchNorm2d(4)), exc.InvalidGraphStructure, "BatchNorm2d '2'"),
    ]
    for model, cls, name in cases:
        with pytest.raises(cls, match=name):
            net_cls()(model, input_shape=(2, 8, 8))
    with pytest.raises(exc.InputConfigurationError):
        net_cls()(nn.Sequential(nn.Conv2d(2, 4, 3), iaf()))


class Branches(nn.Module):
    """One layer to two parallel layers: one through a pooling, one direct (two destinations), merged at the end."""

    def __init__(self):
        super().__init__()
        self.c0, self.i0, self.pool = nn.Conv2d(2, 4, 3, padding=1), iaf(), sl.SumPool2d(2)
        self.c1, self.i1 = nn.Conv2d(4, 4, 1), iaf()
        self.c2, self.i2 = nn.Conv2d(4, 5, 3, stride=2, padding=1), iaf()
        self.merge = sl.Merge()

    def forward(self, x):
        a = self.i0(self.c0(x))
        return self.merge(self.i1(self.c1(self.pool(a))), self.i2(self.c2(a)))


def test_one_pooled_and_one_direct_destination():
    # (sinabs 3.1.3 fails on this graph with an IndexError; spikekit maps it.)
    net = net_cls()(seeded(Branches()), input_shape=(2, 8, 8))
    assert sorted(map(tuple, net.dynapcnn_layers[0].pool)) == [(1, 1), (2, 2)]
    out = net(spikes((2, 8, 8)))  # the final Merge joins two exits: one output per exit layer
    assert sorted(out) == [1, 2]
    assert sorted(o[-1].shape[1] for o in out.values()) == [4, 5]
    to_json = net.to_json()
    assert '"format": "spikekit-speck"' in to_json


def test_parallel_branches_are_numbered_the_same_in_every_run():
    # sinabs's numbering of parallel branches depends on the string hash seed; spikekit's does not.
    code = (
        "import torch, test_speck_dynapcnn as t\n"
        "net = t.net_cls()(t.seeded(t.Branches()), input_shape=(2, 8, 8))\n"
        "print([tuple(layer.conv.weight.shape) for layer in net.dynapcnn_layers.values()])\n"
    )
    import os
    import pathlib

    here = str(pathlib.Path(__file__).parent)
    runs = set()
    for seed in ("1", "2", "3", "4"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": here + os.pathsep + os.environ.get("PYTHONPATH", "")}
        result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        runs.add(result.stdout)
    assert len(runs) == 1, runs


def test_to_a_torch_device_moves_the_layers_and_returns_the_network():
    # (sinabs 3.1.3's to("cpu") fails on a `_merge_points` attribute that 3.x removed.)
    net = net_cls()(seeded(nn.Sequential(nn.Conv2d(2, 4, 3), iaf())), input_shape=(2, 8, 8))
    assert net.to("cpu") is net and net.device == "cpu"
    assert net.to(device=torch.device("cpu")) is net
    assert net.dynapcnn_layers[0].conv.weight.device.type == "cpu"
    assert net.to(torch.float64).dynapcnn_layers[0].conv.weight.dtype == torch.float64
    assert "DynapCNN Network on cpu," in repr(net.to("cpu"))


class ThreeDestinations(nn.Module):
    def __init__(self):
        super().__init__()
        self.c0, self.i0 = nn.Conv2d(2, 2, 1), iaf()
        self.a, self.ia = nn.Conv2d(2, 2, 1), iaf()
        self.b, self.ib = nn.Conv2d(2, 2, 1), iaf()
        self.c, self.ic = nn.Conv2d(2, 2, 1), iaf()
        self.m1, self.m2 = sl.Merge(), sl.Merge()

    def forward(self, x):
        y = self.i0(self.c0(x))
        return self.m2(self.m1(self.ia(self.a(y)), self.ib(self.b(y))), self.ic(self.c(y)))


def test_three_destinations_run_in_torch_but_cannot_be_configured(monkeypatch):
    from spikekit.backend.dynapcnn.exceptions import MaxDestinationsReached

    net = net_cls()(seeded(ThreeDestinations()), input_shape=(2, 4, 4))  # sinabs accepts it too
    assert sorted(net.layer_destination_map[0]) == [1, 2, 3]
    assert len(net(spikes((2, 4, 4)))) == 3
    with pytest.raises(MaxDestinationsReached, match="index 0 has more than two destinations"):
        net.make_json_config()
    monkeypatch.setitem(sys.modules, "samna", None)
    with pytest.raises(MaxDestinationsReached):
        net.make_config()


def test_a_layer_with_three_sources_sums_them():
    # (sinabs 3.1.3 passes the three tensors to one Merge call, which takes two, and fails.)
    class ThreeIntoOne(ThreeDestinations):
        def __init__(self):
            super().__init__()
            self.out, self.iout = nn.Conv2d(2, 2, 1), iaf()

        def forward(self, x):
            return self.iout(self.out(super().forward(x)))

    net = net_cls()(seeded(ThreeIntoOne()), input_shape=(2, 4, 4), discretize=False)
    assert sorted(net.dynapcnn_module.node_source_map[4]) == [1, 2, 3]
    x = spikes((2, 4, 4))
    outs = net(x, return_complete=True)
    summed = sum(outs[i][4] for i in (1, 2, 3))
    net.reset_states()
    final = net(x)
    net.reset_states()
    # the last layer alone, on the sum of its three inputs, gives the network's output
    assert torch.equal(final, net.dynapcnn_layers[4](summed))


def test_make_config_without_samna_names_samna_and_the_alternative(monkeypatch):
    monkeypatch.setitem(sys.modules, "samna", None)  # as if not installed
    net = net_cls()(seeded(nn.Sequential(nn.Conv2d(2, 4, 3), iaf())), input_shape=(2, 8, 8))
    with pytest.raises(ImportError, match="needs samna.*make_json_config"):
        net.make_config(device="speck2fdevkit:0")
    assert net.layer2core_map == {0: 0}  # the placement is made before samna is needed
    with pytest.raises(ImportError, match="needs samna"):
        net.to(device="speck2fdevkit:0")


def test_make_json_config_arguments_and_chip_limits():
    net = net_cls()(seeded(nn.Sequential(nn.Conv2d(2, 4, 3), iaf(), nn.Conv2d(4, 2, 1), iaf())), input_shape=(2, 8, 8))
    config = net.make_json_config(layer2core_map={0: 5, 1: 3}, monitor_layers="all")
    assert [entry["core"] for entry in config["layers"]] == [5, 3]
    assert all(entry["monitor_enable"] for entry in config["layers"])
    with pytest.warns(DeprecationWarning):
        config = net.make_json_config(chip_layers_ordering=[7, 8])
    assert net.layer2core_map == {0: 7, 1: 8}
    assert [e["monitor_enable"] for e in net.make_json_config(config_modifier=lambda c: c)["layers"]] == [False, True]
    with pytest.raises(ValueError, match="must exactly match"):
        net.make_json_config(layer2core_map={0: 1})
    big = net_cls()(nn.Sequential(nn.Conv2d(2, 4, 17), iaf()), input_shape=(2, 20, 20))  # sinabs accepts it too
    with pytest.raises(ValueError, match="17x17 kernel"):
        big.make_json_config()


class _Recorder(types.SimpleNamespace):
    """Stands for samna's configuration objects: attributes set on it are recorded (a dict becomes an object, as
    samna converts it), lists of sub-objects exist."""

    def __setattr__(self, name, value):
        if isinstance(value, dict) and name != "dimensions":
            value = _Recorder(**value)
        super().__setattr__(name, value)


def _fake_samna():
    def config():
        def destinations():
            return [_Recorder(layer=None, enable=False, pooling=1) for _ in range(2)]

        dvs = _Recorder(destinations=destinations(), pooling=_Recorder(x=1, y=1), monitor_enable=False)
        cores = [_Recorder(destinations=destinations(), monitor_enable=False) for _ in range(9)]
        return _Recorder(dvs_layer=dvs, cnn_layers=cores)

    speck2f = types.ModuleType("samna.speck2f")
    speck2f.validate_configuration = lambda cfg: (True, "")
    speck2f.configuration = types.SimpleNamespace(SpeckConfiguration=config)
    samna = types.ModuleType("samna")
    samna.speck2f = speck2f
    return samna


def test_make_config_with_samna_fills_samnas_objects(monkeypatch, capsys):
    samna = _fake_samna()
    monkeypatch.setitem(sys.modules, "samna", samna)
    monkeypatch.setitem(sys.modules, "samna.speck2f", samna.speck2f)
    monkeypatch.setitem(sys.modules, "samna.speck2f.configuration", samna.speck2f.configuration)
    model = seeded(nn.Sequential(nn.Conv2d(2, 4, 3), iaf(), sl.SumPool2d(2), nn.Conv2d(4, 2, 3), iaf()))
    net = net_cls()(model, input_shape=(2, 10, 10), dvs_input=True)
    config = net.make_config(device="speck2fdevkit:0", monitor_layers=["dvs", -1])
    assert "Network is valid" in capsys.readouterr().out
    assert list(net.dynapcnn_layers) == [1, 2]  # numbered after the DVS layer, as in sinabs
    core0, core1 = (config.cnn_layers[net.layer2core_map[i]] for i in (1, 2))
    layer0 = net.dynapcnn_layers[1]
    assert core0.weights == layer0.conv.weight.transpose(2, 3).int().tolist()
    assert core0.threshold_high == int(layer0.spk.spike_threshold) and core0.threshold_low == int(layer0.spk.min_v_mem)
    assert core0.destinations[0].layer == net.layer2core_map[2] and core0.destinations[0].pooling == 2
    assert core0.dimensions["input_shape"] == {"size": {"x": 10, "y": 10}, "feature_count": 2}
    assert core1.monitor_enable is True and core0.monitor_enable is False
    assert config.dvs_layer.monitor_enable is True and config.dvs_layer.pass_sensor_events is True
    assert config.dvs_layer.destinations[0].layer == net.layer2core_map[1]


def test_a_core_order_given_as_a_string_other_than_auto_is_refused():
    net = net_cls()(seeded(nn.Sequential(nn.Conv2d(2, 4, 3), iaf())), input_shape=(2, 8, 8))
    with pytest.raises(ValueError, match="chip_layers_ordering must be 'auto'"):
        net.make_json_config(chip_layers_ordering="01")


def test_the_model_is_traced_once_per_network():
    """DynapcnnNetwork runs the model once (its trace); the plan it keeps serves make_json_config and to_json."""
    model = seeded(nn.Sequential(nn.Conv2d(2, 4, 3), iaf(), sl.SumPool2d(2), nn.Flatten(), nn.Linear(36, 3), iaf()))
    calls = []
    model[0].register_forward_pre_hook(lambda module, args: calls.append(1))  # copied with the model into the trace
    net = net_cls()(model, input_shape=(2, 8, 8))
    assert len(calls) == 1
    first = net.make_json_config()
    net.make_json_config(layer2core_map=first_cores(first))
    net.to_json()
    assert len(calls) == 1
    assert net.plan is net.plan and [layer.name for layer in net.plan.layers] == ["0", "4"]


def first_cores(config):
    return {i: layer["core"] for i, layer in enumerate(config["layers"])}


def test_json_and_samna_routes_write_the_same_core_settings():
    """make_json_config's layers and the builder's per-core settings (what make_config writes into samna) agree,
    states after a forward pass included: one builder (config.core_settings) serves both."""
    from spikekit.backend.dynapcnn.config_builder import builder_for

    model = seeded(nn.Sequential(nn.Conv2d(2, 4, 3), iaf(), sl.SumPool2d(2), nn.Flatten(), nn.Linear(36, 3), iaf()))
    net = net_cls()(model, input_shape=(2, 8, 8))
    net(torch.randint(0, 3, (2, 2, 8, 8)).float())
    config = net.make_json_config(device="speck2fdevkit")
    builder = builder_for("speck2fdevkit")
    for index, layer in net.dynapcnn_layers.items():
        settings = builder.get_dynapcnn_layer_config_dict(layer, net.layer2core_map, net.layer_destination_map[index])
        entry = config["layers"][index]
        assert {key: entry[key] for key in settings if key != "monitor_enable"} == {
            key: value for key, value in settings.items() if key != "monitor_enable"
        }
    assert any(
        any(v != 0 for row in entry["neurons_initial_value"] for col in row for v in col) for entry in config["layers"]
    )
