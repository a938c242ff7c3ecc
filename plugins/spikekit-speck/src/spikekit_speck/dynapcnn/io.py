"""Device names, device handles, timestamps and event records: sinabs's ``sinabs.backend.dynapcnn.io``.

The name helpers (:func:`parse_device_id`, :func:`standardize_device_id`, :func:`get_device_id`,
:func:`is_device_type`, the maps :data:`device_types` / :data:`device_type_map`), the record conversion
:func:`events_to_xytp` and the neuron-address helpers are plain Python and work without samna, with sinabs's
results. What talks to a device (:func:`get_device_map`, :func:`open_device`, :func:`close_device`, the timestamp
switches) or starts the GUI (:func:`launch_visualizer`) imports samna when called; without it they raise
:class:`~spikekit_speck.dynapcnn._samna.SamnaRequiredError` (a ``ModuleNotFoundError``) naming what needed it.
With samna installed they make the same samna calls as sinabs.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import shutil
import subprocess
from typing import Any, Protocol, TypeGuard

import numpy as np

from spikekit_speck.chip import CONFIGURABLE_DEVICES, DEVICES, get_device_id, parse_device_id, standardize_device_id
from spikekit_speck.dynapcnn._samna import SamnaRequiredError, optional_samna, require_samna
from spikekit_speck.events import Spike

__all__ = [
    "device_types",
    "device_type_map",
    "device_map",
    "parse_device_id",
    "get_device_id",
    "standardize_device_id",
    "enable_timestamps",
    "disable_timestamps",
    "reset_timestamps",
    "events_to_xytp",
    "get_device_map",
    "is_device_type",
    "discover_device",
    "open_device",
    "close_device",
    "launch_visualizer",
    "calculate_neuron_address",
    "neuron_address_to_cxy",
    "SamnaRequiredError",
]

#: sinabs's device type -> samna's ``device_type_name`` (the chips from :data:`spikekit_speck.chip.DEVICES`).
device_types: dict[str, str] = {
    **{name: d.board for name, d in DEVICES.items() if d.board is not None},
    "davis346": "Davis 346",
    "davis240": "Davis 240",
    "dvxplorer": "DVXplorer",
    "dynapse2": "DYNAP-SE2 DevBoard",
    "dynapse2_stack": "DYNAP-SE2 Stack",
}

#: samna's ``device_type_name`` -> sinabs's device type.
device_type_map: dict[str, str] = {samna_name: name for name, samna_name in device_types.items()}

#: ``"type:index"`` -> samna ``DeviceInfo``; filled by :func:`get_device_map` (needs samna).
device_map: dict[str, Any] = {}


# ---------------------------------------------------------------------------------------------------- names
def is_device_type(dev_info: Any, dev_type: str) -> bool:
    """Whether a samna ``DeviceInfo`` (any object with ``device_type_name``) is of sinabs type ``dev_type``.

    Raises:
        KeyError: ``dev_type`` is not a key of :data:`device_types`.
    """
    return dev_info.device_type_name == device_types[dev_type]


def _lookup(device_id: str) -> Any:
    """The entry of :data:`device_map` (KeyError, as sinabs, when absent; the message says how to fill it)."""
    try:
        return device_map[device_id]
    except KeyError:
        hint = "" if optional_samna() is not None else "; get_device_map() fills it and needs samna, not installed"
        raise KeyError(f"{device_id!r} is not in the device map{hint}") from None


def discover_device(device_id: str) -> Any:
    """The samna ``DeviceInfo`` of ``device_id`` from :data:`device_map` (filled by :func:`get_device_map`)."""
    return _lookup(standardize_device_id(device_id))


# -------------------------------------------------------------------------------------------- devices (samna)
def get_device_map() -> dict[str, Any]:
    """Every attached supported device as ``{"type:index": samna DeviceInfo}`` (needs samna).

    Devices of one type are numbered in order of their USB address. :data:`device_map` is updated and returned.
    """
    samna = require_samna("listing the attached devices (get_device_map)")
    devices = samna.device.get_all_devices()
    # As sinabs: consecutive runs of one device type form a group (a later run of a type replaces an earlier one).
    groups = {
        device_type_map[name]: sorted(run, key=lambda dev: dev.usb_device_address)
        for name, run in ((k, list(v)) for k, v in itertools.groupby(devices, lambda dev: dev.device_type_name))
        if name in device_type_map
    }
    for dev_type, dev_list in groups.items():
        for i, dev in enumerate(dev_list):
            device_map[get_device_id(dev_type, i)] = dev
    return device_map


def open_device(device_id: str) -> Any:
    """Open ``device_id`` (``"type"`` or ``"type:index"``) and return samna's device handle (needs samna).

    Raises:
        SamnaRequiredError: samna is not installed.
        OSError: no such device is attached, or samna cannot open it (``IOError``, as sinabs).
    """
    device_id = standardize_device_id(device_id)
    samna = require_samna(f"opening device {device_id!r} (open_device)")
    available = get_device_map()
    if device_id not in available:
        found = ", ".join(available) if available else "none"
        raise OSError(f"device {device_id!r} was not found; is it connected? Devices found: {found}")
    handle = samna.device.open_device(available[device_id])
    if handle is None:
        raise OSError(f"samna could not open a connection to device {device_id!r}")
    return handle


def close_device(device_id: str) -> None:
    """Close ``device_id`` (needs samna and a device in :data:`device_map`)."""
    device_id = standardize_device_id(device_id)
    samna = require_samna(f"closing device {device_id!r} (close_device)")
    info = _lookup(device_id)
    handle = samna.device.open_device(info)
    print(f"Closing device: {device_id}")
    samna.device.close_device(handle)


def _stop_watch(device_id: str, what: str) -> Any:
    device_id = standardize_device_id(device_id)
    samna = require_samna(f"{what} of device {device_id!r}")
    info = _lookup(device_id)
    return samna.device.open_device(info).get_stop_watch()


def enable_timestamps(device_id: str) -> None:
    """Start the device's stop watch, so that its events carry timestamps (needs samna)."""
    _stop_watch(device_id, "enabling the timestamps").start()


def disable_timestamps(device_id: str) -> None:
    """Stop the device's stop watch (needs samna)."""
    _stop_watch(device_id, "disabling the timestamps").stop()


def reset_timestamps(device_id: str) -> None:
    """Reset the device's stop watch to 0 (needs samna)."""
    _stop_watch(device_id, "resetting the timestamps").reset()


def launch_visualizer(
    receiver_endpoint: str,
    width_proportion: float = 0.6,
    height_proportion: float = 0.6,
    disjoint_process: bool = True,
) -> multiprocessing.Process | None:
    """Start samna's GUI (``samnagui``) listening on ``receiver_endpoint`` (e.g. ``"tcp://0.0.0.0:33335"``).

    Args:
        receiver_endpoint: the GUI's endpoint for events.
        width_proportion, height_proportion: window size as a fraction of the main monitor's work area.
        disjoint_process: run the ``samnagui`` program on its own (needed on macOS) instead of a child process.

    Returns:
        The child process when ``disjoint_process`` is False, else None.

    Raises:
        SamnaRequiredError: ``samnagui`` is not installed (sinabs runs a shell command that fails silently).
    """
    if disjoint_process:
        program = shutil.which("samnagui")
        if program is None:
            raise SamnaRequiredError("launching the visualizer (launch_visualizer)", "samnagui")
        # A list of arguments, never a shell line: the endpoint is passed as one argument, not interpreted.
        args = [program, "-W", str(float(width_proportion)), "-H", str(float(height_proportion)), receiver_endpoint]
        subprocess.Popen(args, start_new_session=True)  # a program found on PATH, no shell
        return None
    samnagui = require_samna("launching the visualizer (launch_visualizer)", "samnagui")
    process = multiprocessing.Process(
        target=samnagui.run_visualizer, args=(receiver_endpoint, width_proportion, height_proportion)
    )
    process.start()
    return process


# ------------------------------------------------------------------------------------------------- records
class _SpikeEvent(Protocol):
    layer: int
    x: int
    y: int
    timestamp: int
    feature: int


def _is_spike(event: object, classes: tuple[type, ...]) -> TypeGuard[_SpikeEvent]:
    """An instance of one of the spike event classes (each has these fields)."""
    return isinstance(event, classes)


def _spike_classes() -> tuple[type, ...]:
    classes: list[type] = [Spike]
    samna = optional_samna()
    if samna is not None:
        for family in sorted({DEVICES[name].samna_family for name in CONFIGURABLE_DEVICES}):
            event = getattr(getattr(samna, family, None), "event", None)
            if event is not None and hasattr(event, "Spike"):
                classes.append(event.Spike)
    return tuple(classes)


def events_to_xytp(event_list: list, layer: int) -> np.ndarray:
    """The spike events of core ``layer`` as a structured array with fields ``x``, ``y``, ``t``, ``channel``.

    Spike events are samna's ``speck2e`` / ``speck2f`` ``event.Spike`` (when samna is installed) and spikekit's
    :class:`spikekit_speck.events.Spike`; other events (and other layers) are dropped.
    """
    classes = _spike_classes()
    kept = [ev for ev in event_list if _is_spike(ev, classes) and ev.layer == layer]
    dtype = [("x", np.uint16), ("y", np.uint16), ("t", np.uint64), ("channel", np.uint16)]
    out = np.empty(len(kept), dtype=dtype)
    for i, ev in enumerate(kept):
        out[i] = (ev.x, ev.y, ev.timestamp, ev.feature)
    return out


# ------------------------------------------------------------------------------------------ neuron addresses
def _address_bits(feature_map_size: tuple[int, int, int]) -> tuple[int, int, int]:
    channel, height, width = feature_map_size
    x_bits, y_bits, c_bits = (math.ceil(math.log2(n)) for n in (width, height, channel))
    if x_bits + y_bits + c_bits > 18:
        # AssertionError, as sinabs: its check is an assert.
        raise AssertionError(
            f"feature map {tuple(feature_map_size)} (channel, height, width) needs {x_bits + y_bits + c_bits} "
            "address bits; a neuron address has 18. Check the arguments."
        )
    return x_bits, y_bits, c_bits


def calculate_neuron_address(x: int, y: int, c: int, feature_map_size: tuple[int, int, int]) -> int:
    """The address of neuron ``(c, y, x)`` in a ``(channel, height, width)`` feature map, as sinabs computes it
    for ``ReadNeuronValue`` events: ``c | x << c_bits | y << (c_bits + y_bits)`` (bit counts ``ceil(log2(n))``).

    Note: sinabs shifts ``y`` by ``c_bits + y_bits``, so when the width needs more bits than the height the ``x``
    and ``y`` fields overlap; kept as sinabs has it (see the migration notes).
    """
    x_bits, y_bits, c_bits = _address_bits(feature_map_size)
    return (y << (c_bits + y_bits)) | (x << c_bits) | c


def neuron_address_to_cxy(address: int, feature_map_size: tuple[int, int, int]) -> tuple[int, int, int]:
    """``(c, x, y)`` of a neuron address (the inverse of :func:`calculate_neuron_address`, as sinabs has it)."""
    x_bits, y_bits, c_bits = _address_bits(feature_map_size)
    y = address >> (c_bits + y_bits)
    x = (address >> c_bits) & (2**x_bits - 1)
    c = address & (2**c_bits - 1)
    return c, x, y
