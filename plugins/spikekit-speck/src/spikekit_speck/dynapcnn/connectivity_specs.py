"""Which layer types the chip connects to which (sinabs's ``sinabs.backend.dynapcnn.connectivity_specs``).

Type groups (tuples of classes), the valid connections between them (``(source type, target type) -> name``, e.g.
``(nn.Conv2d, IAFSqueeze) -> "weight-neuron"``), and the types that may take several inputs (``Merge``) or send
to several layers (neurons, pooling, DVS). :class:`~.nir_graph_extractor.GraphExtractor` enforces the same rules.
"""

from __future__ import annotations

from torch import nn

from spikekit.layers import IAFSqueeze, Merge, SumPool2d
from spikekit_speck.dvs import DVSLayer

__all__ = [
    "DVS",
    "DVSLayer",
    "LAYER_TYPES_WITH_MULTIPLE_INPUTS",
    "LAYER_TYPES_WITH_MULTIPLE_OUTPUTS",
    "Neuron",
    "Pooling",
    "SupportedNodeTypes",
    "VALID_SINABS_EDGE_TYPES",
    "VALID_SINABS_EDGE_TYPES_ABSTRACT",
    "Weight",
]

Pooling: tuple[type[nn.Module], ...] = (SumPool2d, nn.AvgPool2d)
Weight: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Linear)
Neuron: tuple[type[nn.Module], ...] = (IAFSqueeze,)
DVS: tuple[type[nn.Module], ...] = (DVSLayer,)
SupportedNodeTypes = (*Pooling, *Weight, *Neuron, *DVS)

#: Connections between type groups: a weight layer feeds its neurons; neurons feed pooling or the next core's
#: weights; pooling feeds more pooling (merged into one) or the next core; the DVS layer feeds pooling or a core.
VALID_SINABS_EDGE_TYPES_ABSTRACT = {
    (Weight, Neuron): "weight-neuron",
    (Neuron, Pooling): "neuron-pooling",
    (Pooling, Pooling): "pooling-pooling",
    (Neuron, Weight): "neuron-weight",
    (Pooling, Weight): "pooling-weight",
    (DVS, Weight): "dvs-weight",
    (DVS, Pooling): "dvs-pooling",
}

#: The same, one entry per pair of classes.
VALID_SINABS_EDGE_TYPES = {
    (source, target): name
    for (sources, targets), name in VALID_SINABS_EDGE_TYPES_ABSTRACT.items()
    for source in sources
    for target in targets
}

LAYER_TYPES_WITH_MULTIPLE_INPUTS: tuple[type[nn.Module], ...] = (Merge,)
LAYER_TYPES_WITH_MULTIPLE_OUTPUTS = (*Neuron, *Pooling, *DVS)
