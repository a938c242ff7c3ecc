"""spikekit-convert: turn a trained ANN into a spiking network and measure what the spiking version costs.

Users reach everything through spikekit's namespaces (``spikekit.from_model``, ``spikekit.Network``,
``spikekit.utils.normalize_weights``, ``spikekit.hooks``, ``spikekit.synopcounter.SNNAnalyzer``, ...). Importing
this package is cheap: submodules load on first attribute access.
"""

from __future__ import annotations

from spikekit.plugins import lazy_exports

__all__ = [
    "cnnutils",
    "conversion",
    "from_torch",
    "hooks",
    "network",
    "sinabs_pickle",
    "synopcounter",
    "utils",
]

__getattr__, __dir__ = lazy_exports(globals(), {name: f"{__name__}.{name}" for name in __all__})
