"""``ChipFactory``: a device's configuration builder and event conversions, as sinabs's
``sinabs.backend.dynapcnn.chip_factory``.

The builders are the chips' own (:mod:`spikekit_speck.dynapcnn.chips`, the ones ``DynapcnnNetwork.make_config``
uses); :attr:`ChipFactory.supported_devices` maps device names to their classes. Without samna the event
conversions return spikekit's own events (:class:`spikekit_speck.events.Spike`, with samna's fields ``layer``,
``feature``, ``x``, ``y``, ``timestamp``, all ``int``); with samna installed they return samna's ``event.Spike``
objects of the device family, as sinabs does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from spikekit_speck.chip import parse_device_id
from spikekit_speck.dynapcnn._builder import ConfigBuilder
from spikekit_speck.dynapcnn._samna import optional_samna
from spikekit_speck.dynapcnn.chips import BUILDERS, builder_for
from spikekit_speck.dynapcnn.chips.speck2e import Speck2EConfigBuilder
from spikekit_speck.dynapcnn.chips.speck2f import Speck2FConfigBuilder
from spikekit_speck.events import Spike
from spikekit_speck.events import events_to_raster as _bin_events

__all__ = ["ChipFactory", "ConfigBuilder", "Speck2EConfigBuilder", "Speck2FConfigBuilder", "EventConversionError"]


class EventConversionError(ValueError, AssertionError):
    """Bad input to an event conversion. Also an ``AssertionError``: sinabs checks these inputs with ``assert``."""


def _spike_class(builder: type[ConfigBuilder]) -> Any:
    """samna's ``event.Spike`` of the family when samna is installed, else spikekit's :class:`Spike`."""
    family = getattr(builder, "samna_family", "")
    module = optional_samna(f"samna.{family}") if family else None
    return Spike if module is None else module.event.Spike


def _raster_rows(raster: torch.Tensor, truncate: bool) -> torch.Tensor:
    """``(N, 4)`` rows ``(t, c, y, x)``, one per event, in sinabs's order.

    With ``truncate`` one row per non-zero entry, in ``(t, c, y, x)`` order. Otherwise, within a time bin, entries
    with larger counts come first; the entries holding count ``v`` form a block (in ``(c, y, x)`` order) that is
    repeated ``v`` times.
    """
    if truncate:
        return raster.nonzero()
    values = torch.unique(raster[raster > 0]).flip(0)  # descending counts
    blocks = [(raster == v).nonzero().repeat(int(v), 1) for v in values]
    if not blocks:
        return raster.new_zeros((0, 4), dtype=torch.int64)
    rows = torch.cat(blocks)
    order = torch.sort(rows[:, 0], stable=True).indices
    return rows[order]


class ChipFactory:
    """Config builder and event conversions of one device (``"speck2fdevkit"``, ``"speck2edevkit:1"``, ...).

    Args:
        device_str: ``"device_type"`` or ``"device_type:index"``; the type is a key of :attr:`supported_devices`.

    Raises:
        ValueError: unknown device type (sinabs raises a plain ``Exception``; a ``ValueError`` is one).
    """

    #: Device name -> the chip's builder class (the same mapping ``DynapcnnNetwork.make_config`` uses).
    supported_devices: dict[str, type[ConfigBuilder]] = BUILDERS

    device_name: str
    device_id: int

    def __init__(self, device_str: str) -> None:
        self.device_name, self.device_id = parse_device_id(device_str)
        builder_for(device_str)  # ValueError naming the device when it has no builder

    def get_config_builder(self) -> ConfigBuilder:
        """The device family's :class:`ConfigBuilder` (an instance, as sinabs returns)."""
        return self.supported_devices[self.device_name]()

    def raster_to_events(
        self,
        raster: torch.Tensor,
        layer: int,
        dt: float = 1e-3,
        truncate: bool = False,
        delay_factor: float = 0,
    ) -> list:
        """Events for a ``(T, C, H, W)`` raster of spike counts, addressed to core ``layer``.

        A count ``n`` gives ``n`` events (one with ``truncate``); bin ``t`` gets the timestamp
        ``int(t * 1e6 * dt + delay_factor * 1e6)`` microseconds. The order is sinabs's (see :func:`_raster_rows`).
        Events are samna's ``event.Spike`` when samna is installed, else :class:`spikekit_speck.events.Spike`.

        Raises:
            EventConversionError: negative ``delay_factor`` (an ``AssertionError`` too, as sinabs).
            ValueError: a raster that is not 4-D or holds negative or non-integer counts (sinabs drops those
                silently).
        """
        if delay_factor < 0:
            raise EventConversionError(f"raster_to_events: delay_factor must be >= 0, got {delay_factor}")
        raster = torch.as_tensor(raster).detach()
        if raster.ndim != 4:
            raise ValueError(
                f"raster_to_events expects a raster of shape (Time, Channel, Height, Width), got shape "
                f"{tuple(raster.shape)}"
            )
        if not truncate and ((raster < 0).any() or (raster != torch.round(raster)).any()):
            raise ValueError("raster_to_events expects non-negative integer spike counts (or truncate=True)")
        spike_cls = _spike_class(type(self.get_config_builder()))
        events = []
        for t, c, y, x in _raster_rows(raster, truncate).tolist():
            ev = spike_cls()
            ev.layer = layer
            ev.x, ev.y, ev.feature = x, y, c
            ev.timestamp = int((t * 1e6 * dt) + (delay_factor * 1e6))
            events.append(ev)
        return events

    def xytp_to_events(self, xytp: np.ndarray, layer: int, reset_timestamps: bool, delay_factor: float = 0) -> list:
        """Events for a structured array with fields ``x``, ``y``, ``t`` (microseconds), ``p`` (the feature).

        Args:
            xytp: e.g. from aermanager or tonic.
            layer: destination core.
            reset_timestamps: shift timestamps so that the first one is 0.
            delay_factor: start time in seconds (>= 0).

        Raises:
            EventConversionError: negative ``delay_factor`` or timestamps (an ``AssertionError`` too, as sinabs).
            ValueError: ``xytp`` lacks one of the fields.
        """
        if delay_factor < 0:
            raise EventConversionError(f"xytp_to_events: delay_factor must be >= 0, got {delay_factor}")
        names = getattr(getattr(xytp, "dtype", None), "names", None) or ()
        missing = [f for f in ("x", "y", "t", "p") if f not in names]
        if missing:
            raise ValueError(
                f"xytp_to_events expects a structured array with fields x, y, t, p; fields {missing} are missing "
                f"(got {list(names)})"
            )
        if len(xytp) == 0:
            return []
        tstart = xytp["t"].min()
        if tstart < 0:
            raise EventConversionError(f"xytp_to_events: timestamps must be >= 0, the smallest is {tstart}")
        spike_cls = _spike_class(type(self.get_config_builder()))
        events = []
        for row in xytp:
            ev = spike_cls()
            ev.layer = layer
            ev.x, ev.y, ev.feature = int(row["x"]), int(row["y"]), int(row["p"])
            t = row["t"] - tstart if reset_timestamps else row["t"]
            ev.timestamp = int(t + (delay_factor * 1e6))
            events.append(ev)
        return events

    def events_to_raster(self, events: list, dt: float = 1e-3, shape: tuple | None = None) -> torch.Tensor:
        """A ``(Time, Channel, Height, Width)`` float raster of event counts; the first event is time 0.

        Args:
            events: objects with ``feature``, ``x``, ``y``, ``timestamp`` (microseconds): samna's or spikekit's.
            dt: bin length in seconds.
            shape: ``(Channel, Height, Width)``; inferred from the largest indices when None.

        Raises:
            ValueError: no events.
            IndexError: an event outside ``shape``.
        """
        events = list(events)
        if not events:
            raise ValueError("events_to_raster needs at least one event to find the start time")
        if shape is not None:
            bounds = tuple(int(s) for s in shape)
            for ev in events:
                if not (0 <= ev.feature < bounds[0] and 0 <= ev.y < bounds[1] and 0 <= ev.x < bounds[2]):
                    raise IndexError(
                        f"events_to_raster: event (feature={ev.feature}, y={ev.y}, x={ev.x}) is outside the shape "
                        f"{bounds} (Channel, Height, Width)"
                    )
        return _bin_events(events, dt=dt, shape=shape)
