"""ChipFactory's event conversions and config builder against sinabs 3.1.3 (parity session, samna stand-in).

Both sides get the stand-in's ``samna.speck2f.event.Spike`` records (samna "installed"), so the events are compared
field by field and in order.
"""

import warnings

import numpy as np
import pytest
import torch

oracle = pytest.importorskip("sinabs_dynapcnn_oracle", reason="needs the samna stand-in on PYTHONPATH (nox -s parity)")
pytestmark = pytest.mark.parity
theirs = oracle.theirs

from spikekit_speck.dynapcnn import chip_factory as ours  # noqa: E402

DEVICES = ["speck2e", "speck2edevkit", "speck2fmodule", "speck2fdevkit:1"]


def fields(events):
    return [(int(e.layer), int(e.feature), int(e.x), int(e.y), int(e.timestamp)) for e in events]


def raster(seed, shape=(6, 2, 4, 5), high=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, high, shape, generator=g).float()


def test_supported_devices_and_parsing(theirs):
    assert list(ours.ChipFactory.supported_devices) == list(theirs.chip_factory.ChipFactory.supported_devices)
    for name in DEVICES:
        a, b = ours.ChipFactory(name), theirs.chip_factory.ChipFactory(name)
        assert (a.device_name, a.device_id) == (b.device_name, b.device_id)
        assert type(a.get_config_builder()).__name__ == type(b.get_config_builder()).__name__


@pytest.mark.parametrize("name", ["dynapcnndevkit", "speck2f", "speck3:0"])
def test_unknown_device_is_an_exception_on_both(theirs, name):
    with pytest.raises(Exception, match="Builder not found") as theirs_err:
        theirs.chip_factory.ChipFactory(name)
    with pytest.raises(type(theirs_err.value), match="Builder not found"):
        ours.ChipFactory(name)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("truncate", [False, True])
@pytest.mark.parametrize(("dt", "delay"), [(1e-3, 0), (2.5e-4, 0.5), (1e-2, 1.25)])
def test_raster_to_events_same_events_in_same_order(theirs, seed, truncate, dt, delay):
    r = raster(seed)
    for device in ("speck2edevkit", "speck2fdevkit"):
        mine = ours.ChipFactory(device).raster_to_events(r, layer=3, dt=dt, truncate=truncate, delay_factor=delay)
        ref = theirs.chip_factory.ChipFactory(device).raster_to_events(
            r, layer=3, dt=dt, truncate=truncate, delay_factor=delay
        )
        assert type(mine[0]) is type(ref[0])  # samna's (here: the stand-in's) Spike when samna is installed
        assert fields(mine) == fields(ref)


def test_raster_to_events_negative_delay_same_class(theirs):
    with pytest.raises(AssertionError):
        theirs.chip_factory.ChipFactory("speck2fdevkit").raster_to_events(raster(0), 0, delay_factor=-1)
    with pytest.raises(AssertionError, match="delay_factor"):
        ours.ChipFactory("speck2fdevkit").raster_to_events(raster(0), 0, delay_factor=-1)


def xytp(seed, n=50, dtype=np.uint64):
    rng = np.random.default_rng(seed)
    arr = np.zeros(n, dtype=[("x", np.uint16), ("y", np.uint16), ("t", dtype), ("p", np.uint8)])
    arr["x"], arr["y"], arr["p"] = rng.integers(0, 64, n), rng.integers(0, 64, n), rng.integers(0, 2, n)
    arr["t"] = np.sort(rng.integers(1000, 90_000, n))
    return arr


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("reset", [False, True])
@pytest.mark.parametrize("delay", [0, 0.25])
@pytest.mark.parametrize("dtype", [np.uint64, np.int64])
def test_xytp_to_events_same(theirs, seed, reset, delay, dtype):
    arr = xytp(seed, dtype=dtype)
    mine = ours.ChipFactory("speck2fdevkit").xytp_to_events(arr, 5, reset, delay)
    ref = theirs.chip_factory.ChipFactory("speck2fdevkit").xytp_to_events(arr, 5, reset, delay)
    assert fields(mine) == fields(ref)


def test_xytp_to_events_negative_values_same_class(theirs):
    arr = xytp(0, dtype=np.int64)
    arr["t"][0] = -5
    for fn in (ours.ChipFactory, theirs.chip_factory.ChipFactory):
        with pytest.raises(AssertionError):
            fn("speck2fdevkit").xytp_to_events(arr, 0, True)
        with pytest.raises(AssertionError):
            fn("speck2fdevkit").xytp_to_events(xytp(0), 0, True, delay_factor=-0.5)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("dt", [1e-3, 5e-4, 3e-3])
@pytest.mark.parametrize("shape", [None, (3, 6, 7)])
def test_events_to_raster_same(theirs, seed, dt, shape):
    factory = theirs.chip_factory.ChipFactory("speck2fdevkit")
    events = factory.raster_to_events(raster(seed), layer=0, delay_factor=0.003)
    mine = ours.ChipFactory("speck2fdevkit").events_to_raster(events, dt=dt, shape=shape)
    ref = factory.events_to_raster(events, dt=dt, shape=shape)
    assert mine.dtype == ref.dtype and mine.shape == ref.shape
    assert torch.equal(mine, ref)


def test_events_to_raster_from_xytp_events_same(theirs):
    factory = theirs.chip_factory.ChipFactory("speck2edevkit")
    events = factory.xytp_to_events(xytp(7), layer=1, reset_timestamps=False)
    assert torch.equal(
        ours.ChipFactory("speck2edevkit").events_to_raster(events, dt=1e-2), factory.events_to_raster(events, dt=1e-2)
    )


def test_constraints_same(theirs):
    mine = ours.ChipFactory("speck2fdevkit").get_config_builder().get_constraints()
    ref = theirs.chip_factory.ChipFactory("speck2fdevkit").get_config_builder().get_constraints()
    key = [(c.kernel_memory, c.neuron_memory, c.bias_memory) for c in ref]
    assert [(c.kernel_memory, c.neuron_memory, c.bias_memory) for c in mine] == key


class Obj:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def fake_config():
    def core(i):
        return Obj(
            monitor_enable=False,
            destinations=[Obj(pooling=1 + (i % 3 == 0)), Obj(pooling=1)],
            neurons_initial_value=[[[i, -i], [2 * i, 3]]],
            threshold_low=-5,
            threshold_high=7,
        )

    return Obj(dvs_layer=Obj(monitor_enable=False, pooling=Obj(x=2, y=1)), cnn_layers=[core(i) for i in range(9)])


def snapshot(cfg):
    return (
        cfg.dvs_layer.monitor_enable,
        [(c.monitor_enable, c.neurons_initial_value) for c in cfg.cnn_layers],
    )


@pytest.mark.parametrize("layers", [["dvs", 0, 4], [8], [3, 1]])
def test_monitor_layers_same_and_same_warnings(theirs, layers):
    mine_cfg, ref_cfg = fake_config(), fake_config()
    with warnings.catch_warnings(record=True) as mine_w:
        warnings.simplefilter("always")
        ours.Speck2FConfigBuilder.monitor_layers(mine_cfg, layers)
    with warnings.catch_warnings(record=True) as ref_w:
        warnings.simplefilter("always")
        theirs.chip_factory.Speck2FConfigBuilder.monitor_layers(ref_cfg, layers)
    assert snapshot(mine_cfg) == snapshot(ref_cfg)
    assert len(mine_w) == len(ref_w)


def test_reset_states_same(theirs):
    mine_cfg, ref_cfg = fake_config(), fake_config()
    ours.Speck2EConfigBuilder.reset_states(mine_cfg)
    theirs.chip_factory.Speck2EConfigBuilder.reset_states(ref_cfg)
    assert snapshot(mine_cfg) == snapshot(ref_cfg)
    torch.manual_seed(0)
    ours.Speck2EConfigBuilder.reset_states(mine_cfg, randomize=True)
    torch.manual_seed(0)
    theirs.chip_factory.Speck2EConfigBuilder.reset_states(ref_cfg, randomize=True)
    assert snapshot(mine_cfg) == snapshot(ref_cfg)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.float64])
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (3, 1, 1, 7), (2, 4, 3, 1), (40, 2, 2, 2)])
def test_raster_to_events_dtypes_and_shapes_same(theirs, dtype, shape):
    r = raster(sum(shape), shape=shape, high=7).to(dtype)
    r.view(-1)[0] = 5  # never empty (sinabs fails on an empty raster)
    for truncate in (False, True):
        mine = ours.ChipFactory("speck2e").raster_to_events(r, layer=1, dt=7e-4, truncate=truncate)
        ref = theirs.chip_factory.ChipFactory("speck2e").raster_to_events(r, layer=1, dt=7e-4, truncate=truncate)
        assert fields(mine) == fields(ref)


class _Recorder:
    """Stands in for samna's graph nodes: any ``samna.<Node>()`` returns the node's name."""

    def __getattr__(self, name):
        return lambda: name


@pytest.mark.parametrize("device", DEVICES)
def test_builders_are_the_chips_and_use_the_same_samna_nodes(theirs, device, monkeypatch):
    from spikekit_speck.dynapcnn.chips import BUILDERS
    from spikekit_speck.dynapcnn.config_builder import builder_for

    mine = type(ours.ChipFactory(device).get_config_builder())
    assert mine is builder_for(device) is BUILDERS[ours.ChipFactory(device).device_name]  # one hierarchy
    ref = type(theirs.chip_factory.ChipFactory(device).get_config_builder())
    import samna

    for name in [n for n in dir(samna) if n.startswith("Basic")]:
        monkeypatch.delattr(samna, name)
    recorder = _Recorder()
    monkeypatch.setattr(samna, "__getattr__", recorder.__getattr__, raising=False)
    assert mine.get_input_buffer() == ref.get_input_buffer()
    assert mine.get_output_buffer() == ref.get_output_buffer()
