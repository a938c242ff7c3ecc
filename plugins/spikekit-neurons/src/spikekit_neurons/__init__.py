"""spikekit-neurons: the neuron layers, spike and reset functions, and the reference compute backend of spikekit.

Everything here is also reachable through spikekit's namespaces (``spikekit.layers.LIF``,
``spikekit.activation.MultiSpike``); importing it directly works too (``from spikekit_neurons import LIF``).
Names are imported lazily, on first access.
"""

from __future__ import annotations

from importlib.metadata import version as _distribution_version

from spikekit.plugins import lazy_exports
from spikekit_neurons._catalog import EXPORTS, MODULES

__version__ = _distribution_version("spikekit-neurons")  # the repository's one VERSION file, via metadata

_SUBMODULES = {"backend", "encoders", *(module for _name, module, _ns in MODULES)}
_NAMES = {name: ref for name, ref, _ns, _desc in EXPORTS if name not in _SUBMODULES}
__all__ = [*sorted(_NAMES), "functional"]

__getattr__, __dir__ = lazy_exports(globals(), {**_NAMES, **{m: f"spikekit_neurons.{m}" for m in _SUBMODULES}})
