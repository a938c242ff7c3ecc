"""Synaptic-operation and firing-rate statistics (``SNNAnalyzer``, ``SynOpCounter``), filled by spikekit-convert.

Mirrors ``sinabs.synopcounter``: every public name here comes from a plugin, through the registry."""

from spikekit._namespace import namespace_hooks

__getattr__, __dir__ = namespace_hooks(__name__, globals())
