"""Module replacement helpers (``replace_module``), filled by the spikekit-convert plugin.

Mirrors ``sinabs.conversion``: every public name here comes from a plugin, through the registry."""

from spikekit._namespace import namespace_hooks

__getattr__, __dir__ = namespace_hooks(__name__, globals())
