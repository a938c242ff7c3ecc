"""Shape helpers for convolutional networks, filled by the spikekit-convert plugin.

Mirrors ``sinabs.cnnutils``: every public name here comes from a plugin, through the registry."""

from spikekit._namespace import namespace_hooks

__getattr__, __dir__ = namespace_hooks(__name__, globals())
