"""Spike functions, reset functions and surrogate gradients. Mirrors ``sinabs.activation``.

The core defines the protocols and :class:`ActivationSpec`, how an activation describes itself
(:mod:`spikekit.protocols`); the classes (``MultiSpike``, ``MembraneSubtract``,
``SingleExponential``, ...) come from plugins and are resolved through the registry on first use.
"""

from spikekit._namespace import namespace_hooks
from spikekit.protocols import (
    ActivationSpec,
    ResetFunction,
    SpikeFunction,
    SurrogateGradient,
    SurrogateSpikeFunction,
    spec_of,
    with_spec,
)

__all__ = [
    "SpikeFunction",
    "ResetFunction",
    "SurrogateGradient",
    "SurrogateSpikeFunction",
    "ActivationSpec",
    "spec_of",
    "with_spec",
]

__getattr__, __dir__ = namespace_hooks(__name__, globals())
