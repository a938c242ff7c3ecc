"""spikekit-convert: turn a trained ANN into a spiking network and measure what the spiking version costs.

Users reach everything through spikekit's namespaces (``spikekit.from_model``, ``spikekit.Network``,
``spikekit.utils.normalize_weights``, ``spikekit.hooks``, ``spikekit.synopcounter.SNNAnalyzer``, ...). Importing
this package is cheap: submodules load on first attribute access.
"""

from __future__ import annotations

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
