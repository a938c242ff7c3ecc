"""spikekit-neurons: the neuron layers, spike and reset functions, and the reference compute backend of spikekit.

Everything here is also reachable through spikekit's namespaces (``spikekit.layers.LIF``,
``spikekit.activation.MultiSpike``); importing it directly works too (``from spikekit_neurons import LIF``).
Names are imported lazily, on first access.
"""

from __future__ import annotations

import importlib
from importlib.metadata import version as _distribution_version
from typing import Any

from spikekit_neurons._catalog import EXPORTS

__version__ = _distribution_version("spikekit-neurons")  # the repository's one VERSION file, via metadata

_LAZY = {name: target for name, target, _ns, _desc in EXPORTS if not target.endswith(":functional")}
_SUBMODULES = {"functional", "backend", "encoders", "spike_functions", "resets", "quantize"}
__all__ = [*sorted(_LAZY), "functional"]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"spikekit_neurons.{name}")
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'spikekit_neurons' has no attribute {name!r}")
    module_name, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
