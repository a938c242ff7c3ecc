"""DYNAP-CNN / Speck chip support (``DynapcnnNetwork``, ``DVSLayer``, ...), filled by the spikekit-speck plugin.

Mirrors ``sinabs.backend.dynapcnn``: every public name here comes from a plugin, through the registry, and so do
its submodules (``spikekit.backend.dynapcnn.dvs_layer``, ``.exceptions``, ...: a plugin exports a module object
into this namespace, see :mod:`spikekit._submodules`)."""

from spikekit._namespace import namespace_hooks
from spikekit._submodules import install_submodule_finder

__getattr__, __dir__ = namespace_hooks(__name__, globals())
install_submodule_finder(__name__)
