"""sinabs's ``sinabs.backend.dynapcnn.flipdims`` (the class is defined in :mod:`spikekit_speck.dvs`)."""

from spikekit_speck.dvs import FlipDims

__all__ = ["FlipDims"]
