"""Event streams for the chip's input and output: rasters <-> lists of spike events.

An event is what the chip's input and output buffers carry: the destination core (``layer``), the channel
(``feature``), the pixel (``x``, ``y``) and a ``timestamp`` in microseconds. A raster is ``(T, C, H, W)`` counts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

__all__ = ["Spike", "raster_to_events", "events_to_raster"]


@dataclasses.dataclass
class Spike:
    """One spike event (the fields of the vendor's ``event.Spike``)."""

    layer: int = 0
    feature: int = 0
    x: int = 0
    y: int = 0
    timestamp: int = 0


def raster_to_events(
    raster: torch.Tensor,
    layer: int,
    dt: float = 1e-3,
    truncate: bool = False,
    delay_factor: float = 0.0,
    spike_factory: Callable[[], Any] = Spike,
) -> list[Any]:
    """Turn a spike raster into time-ordered events addressed to core ``layer``.

    A count ``n`` in a bin becomes ``n`` events (one with ``truncate=True``); bin ``t`` gets timestamp
    ``int(t * dt * 1e6 + delay_factor * 1e6)`` microseconds.

    Args:
        raster: ``(T, C, H, W)`` non-negative integer counts.
        layer: destination core.
        dt: bin length in seconds.
        truncate: at most one event per bin and neuron.
        delay_factor: start time in seconds (>= 0).
        spike_factory: makes an empty event (e.g. ``samna.speck2f.event.Spike``); default :class:`Spike`.

    Example:
        >>> [e.timestamp for e in raster_to_events(torch.ones(2, 1, 1, 1), layer=0)]
        [0, 1000]
    """
    if raster.ndim != 4:
        raise ValueError(f"raster_to_events expects a raster of shape (T, C, H, W), got shape {tuple(raster.shape)}")
    if delay_factor < 0:
        raise ValueError(f"delay_factor must be >= 0, got {delay_factor}")
    counts = raster.detach().to(torch.int64)
    if (counts < 0).any():
        raise ValueError("raster_to_events expects non-negative spike counts")
    if truncate:
        counts = counts.clamp(max=1)
    index = counts.nonzero()  # (N, 4) rows (t, c, y, x), sorted by t
    repeats = counts[tuple(index.T)]
    rows = index.repeat_interleave(repeats, dim=0)
    events = []
    for t, c, y, x in rows.tolist():
        ev = spike_factory()
        ev.layer = layer
        ev.feature = c
        ev.x = x
        ev.y = y
        ev.timestamp = int(t * 1e6 * dt + delay_factor * 1e6)
        events.append(ev)
    return events


def events_to_raster(events: Iterable[Any], dt: float = 1e-3, shape: Sequence[int] | None = None) -> torch.Tensor:
    """Bin events into a ``(T, C, H, W)`` count raster; the first event's timestamp is time 0.

    Args:
        events: objects with ``feature``, ``x``, ``y``, ``timestamp`` (microseconds).
        dt: bin length in seconds.
        shape: ``(C, H, W)``; inferred from the largest indices when None.
    """
    events = list(events)
    if not events:
        raise ValueError("events_to_raster needs at least one event")
    start = min(e.timestamp for e in events)
    dt_us = 1e6 * dt
    bins = torch.tensor([int((e.timestamp - start) / dt_us) for e in events])
    feat = torch.tensor([e.feature for e in events])
    ys = torch.tensor([e.y for e in events])
    xs = torch.tensor([e.x for e in events])
    c, h, w = shape if shape is not None else (int(feat.max()) + 1, int(ys.max()) + 1, int(xs.max()) + 1)
    raster = torch.zeros(int(bins.max()) + 1, c, h, w)
    raster.index_put_((bins, feat, ys, xs), torch.ones(len(events)), accumulate=True)
    return raster
