"""Pure time-loop functions behind the neuron layers (the ``sinabs.layers.functional`` API).

``lif_forward`` / ``lif_recurrent`` run IAF, LIF and ExpLeak; ``alif_forward`` / ``alif_recurrent`` run ALIF. The
single-step forms live in :mod:`.lif` and :mod:`.alif`.
"""

from spikekit_neurons.functional.alif import alif_forward, alif_forward_single, alif_recurrent
from spikekit_neurons.functional.lif import lif_forward, lif_forward_single, lif_recurrent

__all__ = [
    "lif_forward",
    "lif_recurrent",
    "alif_forward",
    "alif_recurrent",
    "lif_forward_single",
    "alif_forward_single",
]
