"""sinabs's specksim call shape on spikekit's integer simulator (no samna): against a float model run step by step.

Weights in {-1, 0, 1} (divided by 4 after an average pooling) and threshold 1 discretise exactly (scale 127 or
508), so the chip's integer arithmetic must give the float model's spikes exactly, one step per distinct timestamp.
"""

import functools
import sys

import numpy as np
import pytest
import torch
from torch import nn

import spikekit.layers as sl
from spikekit_speck.dynapcnn.specksim import (
    OUTPUT_DTYPE,
    OfflineSpecksimNetwork,
    from_sequential,
)
from spikekit_speck.simulator import ChipSimulator

SHAPE = (2, 10, 10)


@pytest.fixture(autouse=True)
def _no_samna(monkeypatch):
    monkeypatch.setitem(sys.modules, "samna", None)


def ternary(conv):
    conv.weight.data = torch.randint(-1, 2, conv.weight.shape).float()
    return conv


def make_net(pool="sum", neuron=sl.IAF):
    pooling = sl.SumPool2d(2) if pool == "sum" else nn.AvgPool2d(2)
    return nn.Sequential(
        ternary(nn.Conv2d(2, 4, 3, bias=False)),
        neuron(min_v_mem=-1.0),
        pooling,
        ternary(nn.Conv2d(4, 3, 3, bias=False)),
        neuron(min_v_mem=-1.0),
    )


def reference(net, raster):
    """The float model on (T, C, H, W), one time step per row; returns output and the first layer's spikes."""
    layers = [sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0) if isinstance(m, sl.IAF) else m for m in net]
    model = nn.Sequential(*layers)
    with torch.no_grad():
        first = model[1](model[0](raster))
        out = model[4](model[3](model[2](first)))
    return out, first, model


def random_events(n=600, t_max=40, seed=0):
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=OUTPUT_DTYPE)
    ev["x"], ev["y"], ev["p"] = rng.integers(0, 10, n), rng.integers(0, 10, n), rng.integers(0, 2, n)
    ev["t"] = np.sort(rng.integers(0, t_max, n)) * 1000 + 17
    return ev


def to_raster(ev, times, shape):
    step = np.searchsorted(times, ev["t"])
    raster = torch.zeros(len(times), *shape)
    for s, p, y, x in zip(step, ev["p"], ev["y"], ev["x"]):
        raster[s, p, y, x] += 1
    return raster


@pytest.mark.parametrize("pool", ["sum", "avg"])
@pytest.mark.parametrize("seed", range(3))
def test_output_events_equal_float_model_step_by_step(pool, seed):
    torch.manual_seed(seed)
    net = make_net(pool)
    ev = random_events(seed=seed)
    sim = from_sequential(net, SHAPE)
    assert isinstance(sim, OfflineSpecksimNetwork)
    out = sim(ev)
    times = np.unique(ev["t"])
    expected, _, _ = reference(net, to_raster(ev, times, SHAPE))
    assert expected.sum() > 0  # the case is not trivial
    assert out.dtype == sim.output_dtype
    assert torch.equal(to_raster(out, times, expected.shape[1:]), expected)
    assert set(out["t"]) <= set(times)


def test_states_carry_over_between_calls_until_reset():
    net = make_net()
    ev = random_events(seed=4)
    whole = from_sequential(net, SHAPE)(ev)
    split = from_sequential(net, SHAPE)
    cut = ev["t"] < ev["t"][len(ev) // 2]
    parts = np.concatenate([split(ev[cut]), split(ev[~cut])])
    assert np.array_equal(np.sort(parts, order=["t", "p", "y", "x"]), np.sort(whole, order=["t", "p", "y", "x"]))
    split.reset_states()
    assert np.array_equal(split(ev), whole)


def test_stateful_simulator_equals_chip_simulator_and_its_states():
    net = make_net()
    ev = random_events(seed=5)
    sim = from_sequential(net, SHAPE)
    sim(ev)
    times = np.unique(ev["t"])
    raster = to_raster(ev, times, SHAPE)
    plain = ChipSimulator(sim.deployment.config)
    plain.run(raster.unsqueeze(0))
    for i, spikes in plain.layer_spikes.items():
        assert torch.equal(sim.simulator.layer_spikes[i], spikes)
    _, _, model = reference(net, raster)
    for n, neuron in enumerate((model[1], model[4])):
        state = torch.tensor(sim.read_spiking_layer_states(n), dtype=torch.float64)
        torch.testing.assert_close(state, neuron.v_mem[0].double(), rtol=0, atol=1e-6)


def test_monitors_give_the_hidden_layers_spikes():
    net = make_net()
    ev = random_events(seed=6)
    sim = from_sequential(net, SHAPE)
    sim.add_monitors([0, 1])
    out = sim(ev)
    times = np.unique(ev["t"])
    _, first, _ = reference(net, to_raster(ev, times, SHAPE))
    monitored = sim.read_all_monitors()
    assert torch.equal(to_raster(monitored[0], times, first.shape[1:]), first)
    assert np.array_equal(monitored[1], out)  # the last layer has no pooling after it
    assert sim.get_nth_spiking_layer(1)["index"] == 1
    with pytest.raises(ValueError, match="2th monitor does not exist"):
        sim.add_monitor(2)
    sim.clear_monitors()
    with pytest.raises(ValueError, match="not monitored"):
        sim.read_monitor(0)


def test_empty_input_and_bad_events():
    sim = from_sequential(make_net(neuron=functools.partial(sl.IAFSqueeze, batch_size=1)), SHAPE)
    assert len(sim(np.zeros(0, dtype=OUTPUT_DTYPE))) == 0
    bad = random_events(n=5)
    bad["x"][2] = 10
    with pytest.raises(ValueError, match=r"field 'x' must lie in \[0, 10\)"):
        sim(bad)
    with pytest.raises(ValueError, match="fields x, y, t, p"):
        sim(np.zeros(3, dtype=[("x", int), ("y", int), ("t", int)]))


def test_refusals_as_sinabs():
    with pytest.raises(TypeError, match="ReLU layer with name: 1"):
        from_sequential(nn.Sequential(nn.Conv2d(2, 2, 3, bias=False), nn.ReLU()), SHAPE)
    with pytest.raises(ValueError, match="Biases are not supported"):
        from_sequential(nn.Sequential(nn.Conv2d(2, 2, 3), sl.IAF()), SHAPE)
    net = make_net()
    with_dropout = nn.Sequential(*net[:2], nn.Dropout(0.5), *net[2:])
    with pytest.warns(UserWarning, match="Layer with name: 2 .* is ignored"):
        sim = from_sequential(with_dropout, SHAPE)
    ev = random_events(seed=1)
    assert np.array_equal(sim(ev), from_sequential(net, SHAPE)(ev))


def test_stateful_simulator_resets():
    sim = from_sequential(make_net(), SHAPE)
    assert isinstance(sim.simulator, ChipSimulator) and sim.simulator.keep_state
    sim(random_events(seed=2))
    assert sim.simulator.states
    sim.reset_states()
    assert sim.simulator.states == {}
    assert np.all(np.array(sim.read_spiking_layer_states(0)) == 0)


def _mnist_like_snn():
    """sinabs's specksim example's network (smaller): three conv + pool stages, then two Linear layers."""
    iaf = functools.partial(sl.IAFSqueeze, batch_size=1, min_v_mem=-1.0)
    return nn.Sequential(
        ternary(nn.Conv2d(1, 8, 5, bias=False)), iaf(), sl.SumPool2d(2),
        ternary(nn.Conv2d(8, 16, 5, bias=False)), iaf(), sl.SumPool2d(2),
        ternary(nn.Conv2d(16, 32, 3, bias=False)), iaf(), sl.SumPool2d(2),
        nn.Flatten(),
        ternary(nn.Linear(32, 64, bias=False)), iaf(),
        ternary(nn.Linear(64, 10, bias=False)), iaf(),
    )  # fmt: skip


def test_a_dynapcnn_network_runs_with_the_pooling_its_layers_hold():
    """sinabs's example converts a DynapcnnNetwork: its layers keep their pooling as a size, which the walk must
    count (without it the layers after the first pooling see 4x larger maps, and the last fits no core)."""
    from spikekit_speck.dynapcnn.dynapcnn_network import DynapcnnNetwork

    torch.manual_seed(3)
    snn = _mnist_like_snn()
    chip_net = DynapcnnNetwork(snn, input_shape=(1, 28, 28), dvs_input=False, discretize=True)
    rng = np.random.default_rng(0)
    ev = np.zeros(3000, dtype=OUTPUT_DTYPE)
    ev["x"], ev["y"], ev["p"] = rng.integers(0, 28, 3000), rng.integers(0, 28, 3000), 0
    ev["t"] = np.sort(rng.integers(0, 30, 3000)) * 1000
    from_chip_net = from_sequential(chip_net, (1, 28, 28))
    from_snn = from_sequential(snn, (1, 28, 28))

    def memory(net):
        return [{k: v for k, v in row.items() if k != "name"} for row in net.deployment.config["memory"]["layers"]]

    assert memory(from_chip_net) == memory(from_snn)
    layers = from_chip_net.deployment.config["layers"]
    assert [len(layer["destinations"]) + len(layer["outputs"]) for layer in layers] == [1] * 5
    assert [d["pooling"] for layer in layers for d in layer["destinations"]] == [2, 2, 2, 1]
    first, second = from_chip_net(ev), from_snn(ev)
    assert len(first) > 0 and np.array_equal(first, second)


def test_a_dynapcnn_layer_with_two_destinations_is_refused():
    from spikekit_speck.dynapcnn.dynapcnn_layer import DynapcnnLayer

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = DynapcnnLayer(nn.Conv2d(2, 2, 1, bias=False), sl.IAFSqueeze(batch_size=1), (2, 4, 4), [1, 2])

        @property
        def dynapcnn_layers(self):
            return {0: self.layer}

    with pytest.raises(ValueError, match="sends its output to 2 destinations"):
        from_sequential(Holder(), (2, 4, 4))
