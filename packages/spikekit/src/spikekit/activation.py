"""Spike functions, reset functions and surrogate gradients. Mirrors ``sinabs.activation``.

The core defines the protocols (:mod:`spikekit.protocols`); the classes (``MultiSpike``, ``MembraneSubtract``,
``SingleExponential``, ...) come from plugins and are resolved through the registry on first use.
"""

from spikekit._namespace import namespace_hooks
from spikekit.protocols import ResetFunction, SpikeFunction, SurrogateGradient, SurrogateSpikeFunction

__all__ = ["SpikeFunction", "ResetFunction", "SurrogateGradient", "SurrogateSpikeFunction"]

__getattr__, __dir__ = namespace_hooks(__name__, globals())
