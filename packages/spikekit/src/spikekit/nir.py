"""Import and export through NIR (``to_nir``, ``from_nir``), filled by the spikekit-nir plugin.

Mirrors ``sinabs.nir``: every public name here comes from a plugin, through the registry."""

from spikekit._namespace import namespace_hooks

__getattr__, __dir__ = namespace_hooks(__name__, globals())
