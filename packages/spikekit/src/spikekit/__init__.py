"""spikekit: spiking neural networks in PyTorch, a drop-in for sinabs, built from plugins.

``import spikekit as sinabs`` runs sinabs programs. The core defines the contracts (stateful layers, activation
protocols, compute backends, hardware targets, the plugin system); the layers, surrogate gradients, converters
and backends come from plugins found through the ``spikekit`` entry-point group, lazily, on first use.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from spikekit import (
    activation,
    backend,
    cnnutils,
    conversion,
    from_torch,
    hooks,
    layers,
    network,
    nir,
    synopcounter,
    utils,
    validate_memory_speck,
)
from spikekit._namespace import namespace_hooks
from spikekit.compute import available_backends, use_backend
from spikekit.targets import available_targets, deploy
from spikekit.utils import reset_states, set_batch_size, zero_grad

try:
    __version__ = _metadata.version("spikekit")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "activation",
    "backend",
    "validate_memory_speck",
    "cnnutils",
    "conversion",
    "from_torch",
    "hooks",
    "layers",
    "network",
    "nir",
    "synopcounter",
    "utils",
    "reset_states",
    "set_batch_size",
    "zero_grad",
    "use_backend",
    "available_backends",
    "deploy",
    "available_targets",
    "__version__",
]

__getattr__, __dir__ = namespace_hooks(__name__, globals())
