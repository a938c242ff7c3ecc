"""The spikekit hook implementations of spikekit-plot: its functions in the ``spikekit.plot`` namespace."""

from __future__ import annotations

from spikekit.plugins import hookimpl
from spikekit.plugins.records import Export

__all__ = ["spikekit_exports"]

#: (public name, description)
PLOTS: tuple[tuple[str, str], ...] = (
    ("raster", "spike raster: one row per neuron, a mark per spike"),
    ("membrane_trace", "membrane potentials over time, with threshold and spikes"),
    ("firing_rate_histogram", "histogram of per-neuron firing rates, layers overlaid"),
)


@hookimpl
def spikekit_exports() -> list[Export]:
    return [Export(name, f"spikekit_plot:{name}", text, namespace="spikekit.plot") for name, text in PLOTS]
