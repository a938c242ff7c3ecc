"""spikekit-plot: plots of spike trains and neuron states: spike rasters, membrane traces, firing-rate histograms.

Reach them as ``spikekit.plot.<name>`` (or ``from spikekit_plot import <name>``). Built on matplotlib, which is
imported inside the functions only, so importing this package (which discovering the plugin does) stays cheap.
Every function draws on the ``ax`` it is given (or on a new figure's axes) and returns the axes, so plots compose
into subplots.

Example:
    >>> import spikekit.plot as skp
    >>> ax = skp.raster(spikes)  # spikes: (T, N) or (T, C, H, W)
    >>> ax.figure.savefig("raster.png")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["raster", "membrane_trace", "firing_rate_histogram"]


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - exercised by monkeypatching in the tests
        raise ImportError("spikekit-plot needs matplotlib, which is not installed: pip install matplotlib") from exc
    return matplotlib


def _axes(ax: Any) -> Any:
    _matplotlib()
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    return ax


def _time_axes(ax: Any, dt: float, ylabel: str, title: str | None) -> Any:
    """Label a plot over time steps of duration ``dt``, give it its title, and return the axes."""
    ax.set_xlabel("time" if dt == 1.0 else f"time (x{dt:g})")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def _numpy(values: Any, what: str) -> np.ndarray:
    """A float numpy copy of a tensor / array / sequence (detached, on the CPU)."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what}: expected a tensor or array of numbers, got {type(values).__name__}") from exc


def raster(
    spikes: Any,
    *,
    ax: Any = None,
    dt: float = 1.0,
    marker: str = "|",
    markersize: float | None = None,
    color: Any = "black",
    title: str | None = None,
) -> Any:
    """Draw a spike raster: one row per neuron, a mark at each time step where it spiked.

    Neuron ``n`` (the flattened index over all non-time dimensions) spiking at step ``t`` gives a mark at
    ``(t * dt, n)``; several spikes in one step (MultiSpike) give one mark.

    Args:
        spikes: shape ``(T, ...)``: time first, any neuron shape after it (``(T, N)``, ``(T, C, H, W)``);
            non-zero entries are spikes. A single ``(T,)`` train counts as one neuron.
        ax: matplotlib axes to draw on (default: a new figure).
        dt: duration of a time step, for the x axis.
        marker, markersize, color: passed to ``ax.scatter``.
        title: axes title.

    Returns:
        The axes.

    Example:
        >>> ax = raster(torch.rand(100, 20) < 0.1, dt=1.0, title="input")
    """
    data = _numpy(spikes, "raster")
    if data.ndim == 0:
        raise ValueError("raster expects spikes of shape (T, ...) with time first, got a scalar")
    data = data.reshape(data.shape[0], -1)  # (T, N)
    ax = _axes(ax)
    steps, neurons = np.nonzero(data)
    size = markersize if markersize is not None else (max(2.0, min(40.0, 2000.0 / max(data.shape[1], 1))))
    ax.scatter(steps * dt, neurons, marker=marker, s=size, c=color, linewidths=0.8)
    ax.set_xlim(-0.5 * dt, (data.shape[0] - 0.5) * dt)
    ax.set_ylim(-0.5, data.shape[1] - 0.5)
    return _time_axes(ax, dt, "neuron", title)


def membrane_trace(
    v_mem: Any,
    *,
    ax: Any = None,
    threshold: float | None = None,
    spikes: Any = None,
    dt: float = 1.0,
    labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Any:
    """Plot membrane potentials over time, with the firing threshold and, optionally, spike times.

    Args:
        v_mem: shape ``(T,)`` for one neuron or ``(T, K)`` for K neurons (time first).
        ax: matplotlib axes to draw on (default: a new figure).
        threshold: draw a dashed horizontal line at the spike threshold.
        spikes: same shape as ``v_mem``; a dot is drawn on each trace at the steps where it is non-zero.
        dt: duration of a time step, for the x axis.
        labels: one legend label per neuron.
        title: axes title.

    Returns:
        The axes.

    Example:
        >>> ax = membrane_trace(layer.recordings["v_mem"][0, :, :3], threshold=1.0)
    """
    v = _numpy(v_mem, "membrane_trace")
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2:
        raise ValueError(f"membrane_trace expects v_mem of shape (T,) or (T, K), got shape {v.shape}")
    if labels is not None and len(labels) != v.shape[1]:
        raise ValueError(f"membrane_trace: got {len(labels)} labels for {v.shape[1]} traces")
    ax = _axes(ax)
    t = np.arange(v.shape[0]) * dt
    lines = ax.plot(t, v, drawstyle="steps-post" if v.shape[0] < 40 else "default")
    if labels is not None:
        for line, label in zip(lines, labels):
            line.set_label(label)
        ax.legend(fontsize="small")
    if spikes is not None:
        s = _numpy(spikes, "membrane_trace spikes").reshape(v.shape[0], -1)
        if s.shape != v.shape:
            raise ValueError(f"membrane_trace: spikes of shape {s.shape} do not match v_mem of shape {v.shape}")
        for k, line in enumerate(lines):
            steps = np.nonzero(s[:, k])[0]
            ax.plot(steps * dt, v[steps, k], "o", color=line.get_color(), markersize=3)
    if threshold is not None:
        ax.axhline(float(threshold), color="gray", linestyle="--", linewidth=1, label="_threshold")
    return _time_axes(ax, dt, "membrane potential", title)


def firing_rate_histogram(
    rates: Any,
    *,
    ax: Any = None,
    bins: int | Sequence[float] = 30,
    title: str | None = None,
    xlabel: str = "firing rate (spikes / neuron / step)",
) -> Any:
    """Histogram of per-neuron firing rates; several layers are overlaid when given as a mapping.

    Args:
        rates: per-neuron rates of any shape (flattened), or ``{label: rates}`` for one histogram per layer on
            shared bins.
        ax: matplotlib axes to draw on (default: a new figure).
        bins: number of bins, or bin edges (as for ``numpy.histogram``).
        title: axes title.

    Returns:
        The axes.

    Example:
        >>> ax = firing_rate_histogram({"conv1": rates1, "conv2": rates2})
    """
    groups: Mapping[str, Any] = rates if isinstance(rates, Mapping) else {"": rates}
    if not groups:
        raise ValueError("firing_rate_histogram: got no rates")
    arrays = {label: _numpy(r, "firing_rate_histogram").ravel() for label, r in groups.items()}
    ax = _axes(ax)
    values = np.concatenate(list(arrays.values()))
    if values.size == 0:
        raise ValueError("firing_rate_histogram: got no rates")
    edges = np.histogram_bin_edges(values, bins=bins)
    for label, r in arrays.items():
        ax.hist(r, bins=edges, alpha=0.6 if len(arrays) > 1 else 1.0, label=label or None)
    if len(arrays) > 1 or any(arrays.keys()):
        ax.legend(fontsize="small")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("neurons")
    if title:
        ax.set_title(title)
    return ax
