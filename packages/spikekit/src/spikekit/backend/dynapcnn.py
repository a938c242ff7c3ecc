"""DYNAP-CNN / Speck chip support (``DynapcnnNetwork``, ``DVSLayer``, ...), filled by the spikekit-speck plugin.

Mirrors ``sinabs.backend.dynapcnn``: every public name here comes from a plugin, through the registry."""

from spikekit._namespace import namespace_hooks

__getattr__, __dir__ = namespace_hooks(__name__, globals())
