"""sinabs's device-name helpers, device access and visualizer served by spikekit-speck (sinabs absent).

Without samna the pure helpers give sinabs's results and device access raises a clear error naming samna. A small
fake ``samna`` module (installed in ``sys.modules`` by a fixture) checks the calls made when samna is present.
"""

import sys
import types

import numpy as np
import pytest

from spikekit_speck.dynapcnn import io
from spikekit_speck.dynapcnn._samna import SamnaRequiredError
from spikekit_speck.dynapcnn.dynapcnn_visualizer import DynapcnnVisualizer
from spikekit_speck.events import Spike


@pytest.fixture
def no_samna(monkeypatch):
    monkeypatch.setitem(sys.modules, "samna", None)
    monkeypatch.setitem(sys.modules, "samnagui", None)
    monkeypatch.setattr(io, "device_map", {})


class Info:
    def __init__(self, kind, address):
        self.device_type_name, self.usb_device_address = kind, address


class Handle:
    def __init__(self, info):
        self.info, self.calls = info, []

    def get_stop_watch(self):
        handle = self

        class Watch:
            def start(self):
                handle.calls.append("start")

            def stop(self):
                handle.calls.append("stop")

            def reset(self):
                handle.calls.append("reset")

        return Watch()


@pytest.fixture
def fake_samna(monkeypatch):
    handles = {}

    def open_device(info):
        return handles.setdefault(id(info), Handle(info))

    devices = [Info("Speck2fDevKit", 7), Info("Speck2fDevKit", 3), Info("Speck2eDevKit", 1), Info("Unknown", 0)]
    closed = []
    device = types.SimpleNamespace(get_all_devices=lambda: list(devices), open_device=open_device,
                                   close_device=closed.append)  # fmt: skip
    module = types.ModuleType("samna")
    module.device = device
    monkeypatch.setitem(sys.modules, "samna", module)
    monkeypatch.setattr(io, "device_map", {})
    return types.SimpleNamespace(devices=devices, closed=closed)


def test_device_id_helpers():
    assert io.parse_device_id("speck2fdevkit") == ("speck2fdevkit", 0)
    assert io.parse_device_id("speck2edevkit:12") == ("speck2edevkit", 12)
    assert io.standardize_device_id("speck2e:03") == "speck2e:3"
    assert io.get_device_id("davis346", 1) == "davis346:1"
    with pytest.raises(ValueError, match="'a:b:c' not understood"):
        io.parse_device_id("a:b:c")
    with pytest.raises(ValueError):
        io.parse_device_id("speck2f:x")
    assert io.device_type_map["Speck2fDevKit"] == "speck2fdevkit" and len(io.device_types) == 9
    assert io.is_device_type(Info("Davis 346", 0), "davis346") and not io.is_device_type(Info("x", 0), "davis240")


def test_device_access_needs_samna(no_samna):
    calls = [io.get_device_map, lambda: io.open_device("speck2fdevkit:1"), lambda: io.close_device("speck2fdevkit")]
    calls += [
        lambda fn=fn: fn("speck2edevkit") for fn in (io.enable_timestamps, io.disable_timestamps, io.reset_timestamps)
    ]
    for call in calls:
        with pytest.raises(SamnaRequiredError, match="needs samna, SynSense's SDK .module 'samna'") as err:
            call()
        assert isinstance(err.value, ModuleNotFoundError)
    with pytest.raises(SamnaRequiredError, match="open_device"):
        io.open_device("speck2fdevkit")
    with pytest.raises(KeyError, match="needs samna"):
        io.discover_device("speck2fdevkit:0")
    with pytest.raises(SamnaRequiredError, match="samnagui"):
        io.launch_visualizer("tcp://0.0.0.0:40000", disjoint_process=False)


def test_launch_visualizer_without_the_samnagui_program(monkeypatch):
    monkeypatch.setattr(io.shutil, "which", lambda name: None)
    with pytest.raises(SamnaRequiredError, match="launching the visualizer .*'samnagui'"):
        io.launch_visualizer("tcp://0.0.0.0:40000")  # disjoint_process=True: sinabs's shell line fails silently


def test_device_access_through_samna(fake_samna, capsys):
    mapping = io.get_device_map()
    assert sorted(mapping) == ["speck2edevkit:0", "speck2fdevkit:0", "speck2fdevkit:1"]
    assert [mapping[f"speck2fdevkit:{i}"].usb_device_address for i in (0, 1)] == [3, 7]
    handle = io.open_device("speck2fdevkit:1")
    assert handle.info.usb_device_address == 7
    io.enable_timestamps("speck2fdevkit:1")
    io.reset_timestamps("speck2fdevkit:1")
    io.disable_timestamps("speck2fdevkit:1")
    assert handle.calls == ["start", "reset", "stop"]
    assert io.discover_device("speck2edevkit") is fake_samna.devices[2]
    io.close_device("speck2edevkit")
    assert "Closing device: speck2edevkit:0" in capsys.readouterr().out
    assert fake_samna.closed[0].info is fake_samna.devices[2]
    with pytest.raises(OSError, match="'speck2fdevkit:2' was not found.*speck2fdevkit:0"):
        io.open_device("speck2fdevkit:2")


def test_events_to_xytp_keeps_the_layers_spikes():
    events = [Spike(layer=i % 2, feature=i, x=2 * i, y=3 * i, timestamp=100 * i) for i in range(5)] + ["other"]
    arr = io.events_to_xytp(events, layer=0)
    assert arr.dtype.names == ("x", "y", "t", "channel")
    assert (
        arr["x"].tolist() == [0, 4, 8] and arr["t"].tolist() == [0, 200, 400] and arr["channel"].tolist() == [0, 2, 4]
    )
    assert len(io.events_to_xytp(events, layer=5)) == 0


@pytest.mark.parametrize("fm", [(2, 16, 16), (4, 32, 8), (1, 64, 64), (64, 32, 32)])
def test_neuron_address_round_trip_when_height_bits_cover_width_bits(fm):
    c, h, w = fm
    rng = np.random.default_rng(0)
    seen = set()
    for x, y, ch in zip(rng.integers(0, w, 50), rng.integers(0, h, 50), rng.integers(0, c, 50)):
        address = io.calculate_neuron_address(int(x), int(y), int(ch), fm)
        assert io.neuron_address_to_cxy(address, fm) == (ch, x, y)
        seen.add((address, (int(x), int(y), int(ch))))
    assert len({a for a, _ in seen}) == len({k for _, k in seen})  # distinct neurons, distinct addresses


def test_neuron_address_layout_and_overflow():
    # c in the low bits, then x, then y shifted by c_bits + y_bits (sinabs's layout)
    assert io.calculate_neuron_address(x=3, y=2, c=1, feature_map_size=(2, 16, 16)) == 1 | 3 << 1 | 2 << 5
    # sinabs's layout overlaps x and y when the width needs more bits than the height: kept, so no round trip.
    address = io.calculate_neuron_address(x=3, y=2, c=1, feature_map_size=(2, 16, 64))
    assert io.neuron_address_to_cxy(address, (2, 16, 64)) == (1, 35, 2)
    with pytest.raises(AssertionError, match="needs 19 address bits"):
        io.calculate_neuron_address(0, 0, 0, (8, 256, 256))


def test_visualizer_offline(no_samna):
    vis = DynapcnnVisualizer(add_power_monitor_plot=True, feature_count=3)
    assert vis.gui_type == "dsp" and vis.dvs_shape == (128, 128) and vis.dvs_layer_id == 13
    assert 0 < vis.samna_visualizer_port < 65536
    vis.update_feature_names()
    vis.update_default_readout_return_value()
    assert vis.feature_names == ["0", "1", "2"] and vis.readout_default_return_value == 2
    assert DynapcnnVisualizer.parse_feature_names_from_image_names(["img/0_cat.png", "1_dog.png"]) == ["cat", "dog"]
    with pytest.raises(ValueError, match="readout_images"):
        DynapcnnVisualizer(add_readout_plot=True)
    with pytest.warns(UserWarning, match="using 3"):
        assert DynapcnnVisualizer(power_monitor_number_of_items=4).power_monitor_number_of_items == 3
    for call in (
        lambda: vis.connect(object()),
        vis.start,
        vis.create_plots,
        lambda: vis.add_dvs_plot((9, 9), (0, 0, 1, 1)),
    ):
        with pytest.raises(SamnaRequiredError, match="DynapcnnVisualizer"):
            call()


def test_visualizer_plot_configurations_through_samna_ui(monkeypatch):
    made = []

    def config(kind):
        return lambda *args: made.append((kind, args)) or kind

    ui = types.ModuleType("samna.ui")
    for kind in ("Activity", "Readout", "SpikeCount", "PowerMeasurement"):
        setattr(ui, f"{kind}PlotConfiguration", config(kind))
    monkeypatch.setitem(sys.modules, "samna.ui", ui)
    vis = DynapcnnVisualizer(dvs_shape=(64, 32), add_power_monitor_plot=True, power_monitor_number_of_items=5,
                             feature_names=["a", "b"], feature_count=2)  # fmt: skip
    assert vis.create_plots() == ["Activity", "SpikeCount", "PowerMeasurement"]
    assert made[0] == ("Activity", (32, 64, "Dvs Plot", DynapcnnVisualizer.DEFAULT_LAYOUT_DSP[0]))
    assert made[1][1][:4] == ("Spike Count Plot", 2, ["a", "b"], DynapcnnVisualizer.DEFAULT_LAYOUT_DSP[1])
    assert made[2][1][1:3] == (5, ["io", "ram", "logic", "vdd", "vda"])
    with pytest.raises(KeyError, match="no layout for the plot combination 'd'"):
        DynapcnnVisualizer(add_spike_count_plot=False).create_plots()
