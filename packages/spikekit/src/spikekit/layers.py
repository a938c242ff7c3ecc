"""Spiking layers. Mirrors ``sinabs.layers``.

The core defines the base classes and the time-layout helpers; neuron models (``IAF``, ``LIF``, ``ALIF``,
``ExpLeak`` and their Squeeze / Recurrent variants), pooling and encoding layers come from plugins
(``spikekit-neurons`` first of all) and are resolved through the registry on first use.
"""

from spikekit._namespace import namespace_hooks
from spikekit.state import SqueezeMixin, StatefulLayer
from spikekit.time import FlattenTime, Repeat, UnflattenTime

__all__ = ["StatefulLayer", "SqueezeMixin", "FlattenTime", "UnflattenTime", "Repeat"]

__getattr__, __dir__ = namespace_hooks(__name__, globals())
