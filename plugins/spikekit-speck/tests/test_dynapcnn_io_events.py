"""sinabs's ChipFactory event conversions served by spikekit-speck, without samna (sinabs absent)."""

import sys

import numpy as np
import pytest
import torch

from spikekit_speck.dynapcnn._samna import SamnaRequiredError
from spikekit_speck.dynapcnn.chip_factory import ChipFactory, EventConversionError
from spikekit_speck.dynapcnn.chips.speck2f import Speck2FConfigBuilder
from spikekit_speck.events import Spike


@pytest.fixture(autouse=True)
def _no_samna(monkeypatch):
    monkeypatch.setitem(sys.modules, "samna", None)  # as on a machine without the SDK, whatever is installed


def rows(events):
    return [(e.layer, e.feature, e.x, e.y, e.timestamp) for e in events]


def test_chip_names_and_builders():
    assert list(ChipFactory.supported_devices) == ["speck2e", "speck2edevkit", "speck2fmodule", "speck2fdevkit"]
    f = ChipFactory("speck2fdevkit:2")
    assert (f.device_name, f.device_id) == ("speck2fdevkit", 2)
    assert isinstance(f.get_config_builder(), Speck2FConfigBuilder)
    with pytest.raises(ValueError, match="Builder not found for device type: 'speck2f'.*speck2fdevkit"):
        ChipFactory("speck2f")


def test_builder_offline_parts_and_samna_parts():
    builder = ChipFactory("speck2edevkit").get_config_builder()
    limits = [(c.kernel_memory, c.neuron_memory, c.bias_memory) for c in builder.get_constraints()]
    assert len(limits) == 9 and limits[0] == (16384, 65536, 1024) and limits[5] == (65536, 16384, 1024)
    calls = (
        builder.get_samna_module,
        builder.get_default_config,
        builder.get_input_buffer,
        lambda: builder.build_config({}, {}, {}),
    )
    for call in calls:
        with pytest.raises(SamnaRequiredError, match="samna") as err:
            call()
        assert isinstance(err.value, ModuleNotFoundError) and err.value.name == "samna"


def test_raster_to_events_counts_timestamps_and_type():
    raster = torch.zeros(3, 2, 2, 2)
    raster[0, 1, 0, 1] = 2
    raster[2, 0, 1, 0] = 1
    events = ChipFactory("speck2fdevkit").raster_to_events(raster, layer=4, dt=1e-3, delay_factor=0.5)
    assert all(type(e) is Spike for e in events)
    assert rows(events) == [(4, 1, 1, 0, 500000), (4, 1, 1, 0, 500000), (4, 0, 0, 1, 502000)]
    truncated = ChipFactory("speck2fdevkit").raster_to_events(raster, layer=0, truncate=True)
    assert rows(truncated) == [(0, 1, 1, 0, 0), (0, 0, 0, 1, 2000)]


def test_raster_to_events_order_within_a_bin_is_sinabs_order():
    # Larger counts first; the block of neurons holding one count is repeated count times.
    raster = torch.zeros(1, 1, 1, 4)
    raster[0, 0, 0] = torch.tensor([1.0, 2.0, 0.0, 2.0])
    xs = [e.x for e in ChipFactory("speck2edevkit").raster_to_events(raster, layer=0)]
    assert xs == [1, 3, 1, 3, 0]


def test_raster_round_trip():
    raster = torch.randint(0, 3, (7, 2, 5, 4)).float()
    raster[0, 0, 0, 0] = 1  # the first bin holds an event, so the start time is bin 0
    raster[:, 1, 4, 3] = 1  # the largest indices are present, so the shape is inferred
    f = ChipFactory("speck2fdevkit")
    events = f.raster_to_events(raster, layer=0, dt=2e-3)
    assert len(events) == int(raster.sum())
    assert torch.equal(f.events_to_raster(events, dt=2e-3), raster)
    assert torch.equal(f.events_to_raster(events, dt=2e-3, shape=(3, 6, 6))[:, :2, :5, :4], raster)


def test_raster_to_events_refusals():
    f = ChipFactory("speck2fdevkit")
    with pytest.raises(AssertionError, match="delay_factor must be >= 0"):
        f.raster_to_events(torch.ones(1, 1, 1, 1), 0, delay_factor=-0.1)
    with pytest.raises(EventConversionError):
        f.raster_to_events(torch.ones(1, 1, 1, 1), 0, delay_factor=-0.1)
    with pytest.raises(ValueError, match=r"shape \(Time, Channel, Height, Width\), got shape \(2, 2\)"):
        f.raster_to_events(torch.ones(2, 2), 0)
    with pytest.raises(ValueError, match="non-negative integer spike counts"):
        f.raster_to_events(torch.full((1, 1, 1, 1), 0.5), 0)
    assert f.raster_to_events(torch.zeros(2, 1, 3, 3), 0) == []  # sinabs fails on an empty raster


def xytp(ts, dtype=np.uint64):
    arr = np.zeros(len(ts), dtype=[("x", np.uint16), ("y", np.uint16), ("t", dtype), ("p", np.uint8)])
    arr["x"], arr["y"], arr["p"], arr["t"] = range(len(ts)), [2] * len(ts), [1, 0] * (len(ts) // 2), ts
    return arr


def test_xytp_to_events():
    f = ChipFactory("speck2fdevkit")
    arr = xytp([1000, 1500, 4000, 4000])
    assert [e.timestamp for e in f.xytp_to_events(arr, 2, reset_timestamps=False)] == [1000, 1500, 4000, 4000]
    shifted = f.xytp_to_events(arr, 2, reset_timestamps=True, delay_factor=0.001)
    assert rows(shifted) == [(2, 1, 0, 2, 1000), (2, 0, 1, 2, 1500), (2, 1, 2, 2, 4000), (2, 0, 3, 2, 4000)]
    assert all(type(e.x) is int for e in shifted)
    with pytest.raises(AssertionError, match="timestamps must be >= 0"):
        f.xytp_to_events(xytp([-3, 5], np.int64), 0, True)
    with pytest.raises(ValueError, match=r"fields \['p'\] are missing"):
        f.xytp_to_events(np.zeros(2, dtype=[("x", int), ("y", int), ("t", int)]), 0, True)
    assert f.xytp_to_events(xytp([]), 0, True) == []


def test_events_to_raster_bins_and_refusals():
    f = ChipFactory("speck2fdevkit")
    events = [Spike(0, 1, 2, 0, 10_000), Spike(0, 0, 0, 1, 10_999), Spike(0, 1, 2, 0, 12_500)]
    r = f.events_to_raster(events, dt=1e-3)
    assert r.shape == (3, 2, 2, 3) and r.dtype == torch.float32
    assert r[0, 1, 0, 2] == 1 and r[0, 0, 1, 0] == 1 and r[2, 1, 0, 2] == 1 and r.sum() == 3
    with pytest.raises(ValueError, match="at least one event"):
        f.events_to_raster([])
    with pytest.raises(IndexError, match=r"outside the shape \(1, 2, 3\)"):
        f.events_to_raster(events, shape=(1, 2, 3))


def test_with_samna_spikes_are_samnas_and_the_chips_builder_builds_samnas_config(monkeypatch):
    import types

    class SamnaSpike:
        pass

    class SpeckConfiguration:  # samna's default configuration: a DVS layer and nine cores
        def __init__(self):
            self.dvs_layer = types.SimpleNamespace(pass_sensor_events=True)
            self.cnn_layers = [types.SimpleNamespace() for _ in range(9)]

    samna = types.ModuleType("samna")
    family = types.ModuleType("samna.speck2f")
    family.event = types.SimpleNamespace(Spike=SamnaSpike)
    configuration = types.ModuleType("samna.speck2f.configuration")
    configuration.SpeckConfiguration = SpeckConfiguration
    samna.speck2f, family.configuration = family, configuration
    for name, module in (("samna", samna), ("samna.speck2f", family), ("samna.speck2f.configuration", configuration)):
        monkeypatch.setitem(sys.modules, name, module)
    events = ChipFactory("speck2fdevkit").raster_to_events(torch.ones(1, 1, 1, 2), layer=2)
    assert [type(e) for e in events] == [SamnaSpike, SamnaSpike] and events[1].x == 1 and events[0].layer == 2
    # The factory's builder is the chips' one (the one DynapcnnNetwork.make_config uses): it builds samna's object.
    assert ChipFactory.supported_devices["speck2fdevkit"] is Speck2FConfigBuilder
    config = ChipFactory("speck2fdevkit").get_config_builder().build_config({}, {}, {})
    assert isinstance(config, SpeckConfiguration) and config.dvs_layer.pass_sensor_events is False
