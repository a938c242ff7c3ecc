"""spikekit: spiking neural networks in PyTorch, a drop-in for sinabs, built from plugins.

``import spikekit as sinabs`` runs sinabs programs. The core defines the contracts (stateful layers, activation
protocols, compute backends, hardware targets, the plugin system); the layers, surrogate gradients, converters
and backends come from plugins found through the ``spikekit`` entry-point group, lazily, on first use.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from spikekit import activation, layers, plot, utils  # noqa: F401  (plot: a file, imported before the namespaces are made)
from spikekit._namespace import make_namespaces, namespace_hooks
from spikekit.compute import available_backends, use_backend
from spikekit.plugins.records import NAMESPACES
from spikekit.targets import available_targets, deploy

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

# The namespaces where every name comes from a plugin (``spikekit.nir``, ``spikekit.backend.dynapcnn``, ...) are
# made from the one table of namespaces; the core's own (above) are files.
make_namespaces(NAMESPACES)  # binds each on this package
# (from the module, not ``from spikekit.utils import``: a ``from`` import asks a namespace for its ``__path__``)
reset_states, set_batch_size, zero_grad = utils.reset_states, utils.set_batch_size, utils.zero_grad

__getattr__, __dir__ = namespace_hooks(__name__, globals())
