"""Hardware backends, mirroring ``sinabs.backend`` (``spikekit.backend.dynapcnn`` is filled by spikekit-speck).

Not to be confused with :mod:`spikekit.backends`, the compute backends that run neuron layers' time loops.
"""

from spikekit.backend import dynapcnn

__all__ = ["dynapcnn"]
