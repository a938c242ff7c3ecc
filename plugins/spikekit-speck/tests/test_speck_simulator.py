"""The chip simulator: hand-computed neuron sequences, and exact agreement with a float model on integer weights."""

import json

import pytest
import torch
from torch import nn

import spikekit
import spikekit.activation as sa
import spikekit.layers as sl
from spikekit_speck import ChipSimulator, SpeckDeployment, events_to_raster, raster_to_events


def one_neuron(weight, bias=0.0, threshold=1.0, min_v_mem=None, **kwargs):
    conv = nn.Conv2d(1, 1, 1, bias=True)
    conv.weight.data.fill_(weight)
    conv.bias.data.fill_(bias)
    spk = sl.IAFSqueeze(batch_size=1, spike_threshold=threshold, min_v_mem=min_v_mem, **kwargs)
    return nn.Sequential(conv, spk)


def run(model, counts):
    dep = spikekit.deploy(model, "speck2f", input_shape=(1, 1, 1))
    x = torch.tensor(counts, dtype=torch.float32).reshape(1, -1, 1, 1, 1)
    return dep, dep.simulate(x).flatten().tolist()


def test_subtract_reset_multi_spike():
    # weight 0.5, thr 1 -> scale 254: w=127, thr=254. v: 127, 254->spike(1) 0, 381->1 (127), 127+127*...
    dep, out = run(one_neuron(0.5, threshold=1.0, min_v_mem=-1.0), [1, 1, 3, 0])
    layer = dep.config["layers"][0]
    assert (layer["weights"], layer["threshold_high"], layer["threshold_low"]) == ([[[[127]]]], 254, -254)
    # v: 127 (0) | 254 -> 1, v 0 | 381 -> 1, v 127 | 127 -> 0
    assert out == [0, 1, 1, 0]


def test_return_to_zero():
    _, out = run(one_neuron(0.5, min_v_mem=-1.0, reset_fn=sa.MembraneReset()), [1, 3, 1, 1])
    # v: 127 | 508 -> 2 spikes (multi), reset to 0 | 127 | 254 -> 1
    assert out == [0, 2, 0, 1]


def test_single_spike_mode():
    _, out = run(one_neuron(0.5, min_v_mem=-1.0, spike_fn=sa.SingleSpike), [0, 5, 0, 0])
    # v 0 | 635 -> 1, 381 | 381 -> 1, 127 | 127 -> 0
    assert out == [0, 1, 1, 0]


def test_leak_via_bias_and_low_threshold():
    # weight 1, bias -0.25, thr 1, low -0.5 -> scale 127: w 127, b round(-31.75)=-32, thr 127, low round(-63.5)=-64
    dep, out = run(one_neuron(1.0, bias=-0.25, min_v_mem=-0.5), [0, 0, 0, 1, 1, 0])
    layer = dep.config["layers"][0]
    assert (layer["biases"], layer["threshold_high"], layer["threshold_low"], layer["leak_enable"]) == (
        [-32],
        127,
        -64,
        True,
    )
    # v: -32 | -64 | -96 -> floor -64 | -64+127-32=31 | 31+95=126 (0) | 94
    assert out == [0, 0, 0, 0, 0, 0]
    sim = dep.simulator
    sim.run(torch.tensor([0, 0, 0, 1, 1, 1.0]).reshape(1, 6, 1, 1, 1))
    assert sim.layer_spikes[0].flatten().tolist() == [0, 0, 0, 0, 0, 1]  # 126 + 95 = 221 -> spike


def test_state_saturates_at_16_bits():
    model = one_neuron(1.0, threshold=300.0)  # scale: weight 127, thresholds (-32768, 300) -> min(127, 1) = 1
    dep = spikekit.deploy(model, "speck2f", input_shape=(1, 1, 1))
    assert dep.config["layers"][0]["threshold_high"] == 300
    big = torch.full((1, 1, 1, 1, 1), 40000.0)
    out = dep.simulate(big)
    assert out.item() == (2**15 - 1) // 300  # 40000 saturates to 32767 first
    assert spikekit.deploy(model, "speck2f", input_shape=(1, 1, 1), saturate=False).simulate(big).item() == 40000 // 300


def integer_model(batch_size):
    """A net whose float parameters are already on the chip's grid (scale 1), so float == chip exactly."""
    torch.manual_seed(1)
    convs = [nn.Conv2d(2, 4, 3, padding=1), nn.Conv2d(4, 8, 3), nn.Linear(8 * 2 * 2, 5)]
    for c in convs:
        c.weight.data = torch.randint(-60, 61, c.weight.shape).float()
        c.weight.data.view(-1)[0] = 127.0
        c.bias.data = torch.randint(-20, 21, c.bias.shape).float()
    kw = dict(batch_size=batch_size, spike_threshold=200.0, min_v_mem=-300.0)
    return nn.Sequential(
        convs[0], sl.IAFSqueeze(**kw), sl.SumPool2d(2),
        convs[1], sl.IAFSqueeze(**kw, reset_fn=sa.MembraneReset()),
        nn.Flatten(), convs[2], sl.IAFSqueeze(**kw),
    )  # fmt: skip


def test_simulator_equals_float_model_on_integer_grid():
    b, t = 3, 12
    model = integer_model(b)
    dep = spikekit.deploy(model, "speck2f", input_shape=(2, 8, 8))
    assert all(layer["scale"] == 1.0 for layer in dep.config["layers"])
    x = torch.randint(0, 3, (b, t, 2, 8, 8)).float()
    chip = dep.simulate(x)  # (B, T, 5, 1, 1)
    with torch.no_grad():
        ref = model(x.reshape(b * t, 2, 8, 8)).reshape(b, t, 5)
    assert torch.equal(chip.reshape(b, t, 5).float(), ref)
    assert ref.sum() > 0


def test_json_round_trip_and_simulation(tmp_path):
    model = integer_model(2)
    dep = spikekit.deploy(model, "speck2f", input_shape=(2, 8, 8))
    path = tmp_path / "net.json"
    dep.to_json(str(path))
    loaded = SpeckDeployment.from_json(str(path))
    assert loaded.config == json.loads(json.dumps(dep.config))
    x = torch.randint(0, 2, (2, 6, 2, 8, 8))
    assert torch.equal(loaded.simulate(x), dep.simulate(x))
    assert loaded.memory_summary().as_dict() == dep.memory_summary().as_dict()


def test_config_version_is_checked():
    dep = spikekit.deploy(integer_model(1), "speck2f", input_shape=(2, 8, 8))
    bad = dict(dep.config, version=99)
    with pytest.raises(ValueError, match="unsupported spikekit-speck configuration version 99"):
        SpeckDeployment(bad)


def test_samna_absent_gives_clear_import_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "samna", None)  # absent (a test session may have a stand-in on its path)
    dep = spikekit.deploy(integer_model(1), "speck2f", input_shape=(2, 8, 8))
    with pytest.raises(ImportError, match="needs SynSense's SDK 'samna'"):
        dep.to_samna()


def test_samna_conversion_with_stand_in_module():
    class Obj:
        def __init__(self):
            self.destinations = [Obj.__new__(Obj), Obj.__new__(Obj)]

    class FakeConfig:
        def __init__(self):
            self.cnn_layers = [Obj() for _ in range(9)]
            self.dvs_layer = Obj()

    class FakeModule:
        SpeckConfiguration = FakeConfig

    dep = spikekit.deploy(integer_model(1), "speck2f", input_shape=(2, 8, 8))
    cfg = dep.to_samna(FakeModule)
    for layer in dep.config["layers"]:
        core = cfg.cnn_layers[layer["core"]]
        assert core.weights == layer["weights"] and core.threshold_high == layer["threshold_high"]
        for slot, dest in enumerate(layer["destinations"]):
            assert (core.destinations[slot].layer, core.destinations[slot].pooling) == (dest["layer"], dest["pooling"])
    last = dep.config["layers"][-1]
    assert cfg.cnn_layers[last["core"]].monitor_enable is True
    assert cfg.dvs_layer.pass_sensor_events is False


def test_events_round_trip():
    raster = torch.randint(0, 3, (5, 2, 3, 4)).float()
    raster[0, 0, 0, 0] = 1  # first event at t=0 so the raster starts there
    events = raster_to_events(raster, layer=3, dt=1e-3)
    assert len(events) == int(raster.sum())
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)
    assert all(e.layer == 3 for e in events)
    back = events_to_raster(events, dt=1e-3, shape=(2, 3, 4))
    assert torch.equal(back, raster[: back.shape[0]]) and back.shape[0] == 5 - int((raster[-1] == 0).all())
    once = raster_to_events(raster, layer=0, truncate=True)
    assert len(once) == int((raster > 0).sum())


def test_kept_states_make_two_runs_one():
    """With keep_state the simulator carries the states from run to run: two halves give the whole run's spikes."""
    dep = spikekit.deploy(integer_model(2), "speck2f", input_shape=(2, 8, 8))
    x = torch.randint(0, 3, (2, 8, 2, 8, 8))
    whole = ChipSimulator(dep.config).run(x)
    halves = ChipSimulator(dep.config, keep_state=True)
    first, second = halves.run(x[:, :4]), halves.run(x[:, 4:])
    for index, outs in whole.items():
        for k, out in enumerate(outs):
            assert torch.equal(torch.cat([first[index][k], second[index][k]], dim=1), out)
    with pytest.raises(ValueError, match="batch of 2, but got a batch of 1"):
        halves.run(x[:1])
    halves.reset_states()
    assert halves.states == {} and torch.equal(halves.run(x)[index][0], whole[index][0])
