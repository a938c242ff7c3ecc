"""Plots of spike trains and neuron states (``raster``, ``membrane_trace``, ``firing_rate_histogram``), filled by the
spikekit-plot plugin (``pip install spikekit-plot``, or the extra ``spikekit[plot]``).

Every public name here comes from a plugin, through the registry; without the plugin, using one raises a
:class:`~spikekit.errors.PluginNotInstalledError` that names the distribution to install."""

from spikekit._namespace import namespace_hooks

__getattr__, __dir__ = namespace_hooks(__name__, globals(), provider="spikekit-plot")
