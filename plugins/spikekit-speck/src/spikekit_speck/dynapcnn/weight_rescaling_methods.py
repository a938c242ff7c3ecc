"""How conflicting AvgPool rescale factors reaching one layer are combined (sinabs's module of the same name)."""

from spikekit_speck.graph import rescale_method_1, rescale_method_2

__all__ = ["rescale_method_1", "rescale_method_2"]
