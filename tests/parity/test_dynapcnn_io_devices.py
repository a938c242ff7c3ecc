"""Device-name helpers, device access, neuron addresses, specksim helpers and the visualizer's construction against
sinabs 3.1.3 (parity session, samna stand-in: samna "installed", no device attached)."""

import sys
import warnings

import numpy as np
import pytest
import torch

oracle = pytest.importorskip("sinabs_dynapcnn_oracle", reason="needs the samna stand-in on PYTHONPATH (nox -s parity)")
pytestmark = pytest.mark.parity
theirs = oracle.theirs

from spikekit_speck.dynapcnn import dynapcnn_visualizer as ours_vis  # noqa: E402
from spikekit_speck.dynapcnn import io as ours  # noqa: E402
from spikekit_speck.dynapcnn import specksim as ours_sim  # noqa: E402

IDS = ["speck2fdevkit", "speck2fdevkit:0", "speck2edevkit:3", "speck2e:07", "davis346:1", "x:y:z", "speck2f:a", ""]


def outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except Exception as exc:
        return ("raised", exc)


def same_outcome(mine, ref):
    """Same value, or both raised and ours is catchable as sinabs's class."""
    assert mine[0] == ref[0], (mine, ref)
    if mine[0] == "ok":
        assert mine[1] == ref[1]
    else:
        assert isinstance(mine[1], type(ref[1])), (mine, ref)


@pytest.mark.parametrize("device_id", IDS)
def test_device_id_helpers_same(theirs, device_id):
    for name in ("parse_device_id", "standardize_device_id"):
        same_outcome(outcome(getattr(ours, name), device_id), outcome(getattr(theirs.io, name), device_id))


def test_device_maps_same(theirs):
    assert ours.device_types == theirs.io.device_types
    assert ours.device_type_map == theirs.io.device_type_map


class Info:
    def __init__(self, kind, address):
        self.device_type_name, self.usb_device_address = kind, address

    def __repr__(self):
        return f"Info({self.device_type_name!r}, {self.usb_device_address})"


@pytest.mark.parametrize("dev_type", ["speck2fdevkit", "davis346", "dynapse2_stack", "unknown"])
def test_is_device_type_same(theirs, dev_type):
    info = Info("Speck2fDevKit", 3)
    same_outcome(outcome(ours.is_device_type, info, dev_type), outcome(theirs.io.is_device_type, info, dev_type))


@pytest.mark.parametrize(
    "fm", [(2, 16, 16), (4, 8, 32), (16, 32, 8), (1, 64, 64), (128, 64, 64), (3, 5, 7), (2, 128, 128)]
)
def test_neuron_addresses_same(theirs, fm):
    c, h, w = fm
    for x, y, ch in [(0, 0, 0), (w - 1, h - 1, c - 1), (w // 2, h // 3, c // 2)]:
        mine = outcome(ours.calculate_neuron_address, x, y, ch, fm)
        ref = outcome(theirs.io.calculate_neuron_address, x, y, ch, fm)
        same_outcome(mine, ref)
        if ref[0] == "ok":
            same_outcome(
                outcome(ours.neuron_address_to_cxy, ref[1], fm), outcome(theirs.io.neuron_address_to_cxy, ref[1], fm)
            )


def test_events_to_xytp_same(theirs):
    import samna

    spike_e, spike_f = samna.speck2e.event.Spike, samna.speck2f.event.Spike
    events = [spike_f(layer=i % 3, feature=i % 5, x=i, y=2 * i, timestamp=10 * i) for i in range(20)]
    events += [spike_e(layer=1, feature=2, x=3, y=4, timestamp=5), "not an event", Info("x", 1)]
    for layer in (0, 1, 2, 7):
        mine, ref = ours.events_to_xytp(events, layer), theirs.io.events_to_xytp(events, layer)
        assert mine.dtype == ref.dtype and np.array_equal(mine, ref)


def test_no_device_attached_same_errors(theirs):
    assert ours.get_device_map() == theirs.io.get_device_map() == {}
    same_outcome(outcome(ours.open_device, "speck2fdevkit"), outcome(theirs.io.open_device, "speck2fdevkit"))
    assert isinstance(outcome(ours.open_device, "speck2fdevkit:1")[1], OSError)
    for name in ("enable_timestamps", "disable_timestamps", "reset_timestamps", "discover_device", "close_device"):
        mine = outcome(getattr(ours, name), "speck2edevkit:2")
        same_outcome(mine, outcome(getattr(theirs.io, name), "speck2edevkit:2"))
        assert isinstance(mine[1], KeyError)


GROUPED = [Info("Speck2fDevKit", 9), Info("Speck2fDevKit", 2), Info("Speck2fDevKit", 5), Info("Davis 346", 4),
           Info("Other", 1), Info("Speck2eDevKit", 7)]  # fmt: skip
# A type that comes back after another: sinabs groups consecutive runs only, and the later run replaces the earlier.
INTERLEAVED = [Info("Speck2fDevKit", 9), Info("Speck2fDevKit", 2), Info("Davis 346", 4), Info("Speck2fDevKit", 5)]


@pytest.mark.parametrize("devices", [GROUPED, INTERLEAVED], ids=["grouped", "interleaved"])
def test_device_map_and_open_with_devices(theirs, monkeypatch, devices):
    import samna

    monkeypatch.setattr(ours, "device_map", {})
    monkeypatch.setattr(theirs.io, "device_map", {})
    monkeypatch.setattr(samna.device, "get_all_devices", lambda: list(devices), raising=False)
    monkeypatch.setattr(samna.device, "open_device", lambda info: ("handle", info), raising=False)
    mine, ref = dict(ours.get_device_map()), dict(theirs.io.get_device_map())
    assert mine == ref
    if devices is GROUPED:  # numbered by USB address within a type
        assert [mine[f"speck2fdevkit:{i}"].usb_device_address for i in range(3)] == [2, 5, 9]
    for device_id in [*ref, "speck2edevkit:4", "dynapse2"]:
        same_outcome(outcome(ours.open_device, device_id), outcome(theirs.io.open_device, device_id))


def test_without_samna_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "samna", None)
    with pytest.raises(ModuleNotFoundError, match="opening device 'speck2fdevkit:0'.*samna"):
        ours.open_device("speck2fdevkit")


# ----------------------------------------------------------------------------------------------------- specksim
def test_specksim_pure_helpers_same(theirs):
    torch.manual_seed(0)
    lin = torch.nn.Linear(3 * 4 * 5, 7, bias=False)
    mine = ours_sim.convert_linear_to_convolutional(lin, (3, 4, 5))
    ref = theirs.specksim.convert_linear_to_convolutional(lin, (3, 4, 5))
    assert torch.equal(mine.weight, ref.weight) and mine.kernel_size == ref.kernel_size and mine.bias is None
    x = torch.rand(2, 3, 4, 5)
    torch.testing.assert_close(mine(x), lin(x.flatten(1)).view(2, 7, 1, 1))
    with pytest.raises(ValueError):
        theirs.specksim.convert_linear_to_convolutional(lin, (3, 4, 4))
    with pytest.raises(ValueError):
        ours_sim.convert_linear_to_convolutional(lin, (3, 4, 4))
    for k in (2, (2, 3), 4):
        pool = torch.nn.AvgPool2d(k)
        assert ours_sim.calculate_weight_scale(pool) == theirs.specksim.calculate_weight_scale(pool)
        assert ours_sim.to_tuple(k) == theirs.specksim.to_tuple(k)


def test_specksim_event_records_same(theirs):
    arr = np.zeros(6, dtype=ours_sim.OUTPUT_DTYPE)
    arr["x"], arr["y"], arr["t"], arr["p"] = (
        [1, 2, 3, 4, 5, 6],
        [6, 5, 4, 3, 2, 1],
        [0, 0, 1, 5, 9, 9],
        [0, 1, 0, 1, 0, 1],
    )
    mine = ours_sim.SpecksimNetwork.xytp_to_specksim_spikes(arr)
    ref = theirs.specksim.SpecksimNetwork.xytp_to_specksim_spikes(arr)
    assert mine == ref
    back_mine = ours_sim.SpecksimNetwork.specksim_spikes_to_xytp(ref, ours_sim.SpecksimNetwork.output_dtype)
    back_ref = theirs.specksim.SpecksimNetwork.specksim_spikes_to_xytp(
        ref, theirs.specksim.SpecksimNetwork.output_dtype
    )
    assert back_mine.dtype == back_ref.dtype and np.array_equal(back_mine, back_ref) and np.array_equal(back_mine, arr)


def test_specksim_with_samna_takes_samnas_path(theirs):
    """With samna installed both build samna's graph: the stand-in has no specksim nodes, so both fail alike."""
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 2, 3, bias=False))
    same_outcome(
        outcome(ours_sim.from_sequential, net, (2, 8, 8)), outcome(theirs.specksim.from_sequential, net, (2, 8, 8))
    )


# --------------------------------------------------------------------------------------------------- visualizer
ARGS = [
    {},
    {"window_scale": (2, 3), "dvs_shape": (64, 64), "add_spike_count_plot": False, "add_power_monitor_plot": True},
    {"add_readout_plot": True, "readout_images": ["a/0_cat.png", "b/1_dog.png"], "feature_count": 2},
    {"feature_names": ["a", "b"], "readout_default_return_value": 1, "extra_arguments": {"readout": {"x": 1}}},
]


def state(vis):
    return {k: v for k, v in vars(vis).items() if k != "samna_visualizer_port"}


@pytest.mark.parametrize("kwargs", ARGS)
def test_visualizer_construction_same(theirs, kwargs):
    mine, ref = ours_vis.DynapcnnVisualizer(**kwargs), theirs.dynapcnn_visualizer.DynapcnnVisualizer(**kwargs)
    assert state(mine) == state(ref)
    paths = kwargs.get("readout_images")
    assert ours_vis.DynapcnnVisualizer.parse_feature_names_from_image_names(
        paths
    ) == theirs.dynapcnn_visualizer.DynapcnnVisualizer.parse_feature_names_from_image_names(paths)


def test_visualizer_refusals_same(theirs):
    for cls in (ours_vis.DynapcnnVisualizer, theirs.dynapcnn_visualizer.DynapcnnVisualizer):
        with pytest.raises(ValueError):
            cls(add_readout_plot=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert cls(power_monitor_number_of_items=4).power_monitor_number_of_items == 3
        assert len(caught) == 1
