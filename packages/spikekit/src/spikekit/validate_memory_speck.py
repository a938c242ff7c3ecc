"""Memory checks for one convolutional layer on a Speck chip (``ValidateMapping``), filled by spikekit-speck.

Mirrors ``sinabs.validate_memory_speck``: every public name here comes from a plugin, through the registry."""

from spikekit._namespace import namespace_hooks

__getattr__, __dir__ = namespace_hooks(__name__, globals())
