"""Hardware backends, mirroring ``sinabs.backend`` (``spikekit.backend.dynapcnn`` is filled by spikekit-speck).

The compute backends that run neuron layers' time loops are another module, :mod:`spikekit.compute`.
"""

from spikekit.backend import dynapcnn

__all__ = ["dynapcnn"]
