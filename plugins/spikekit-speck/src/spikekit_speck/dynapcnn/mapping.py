"""Placing DynapcnnLayers on cores (sinabs's ``sinabs.backend.dynapcnn.mapping``).

A layer fits a core when its kernel, neuron and bias memories fit the core's. The assignment is the engine's
(:mod:`spikekit_speck.mapping`, which every route uses): a maximum flow grown by breadth-first augmenting paths, the
layers and cores visited in index order, so the result is the one sinabs finds.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from spikekit_speck.dvs import DVSLayer
from spikekit_speck.dynapcnn.dynapcnn_layer import DynapcnnLayer
from spikekit_speck.dynapcnn.exceptions import InvalidModel  # noqa: F401  (sinabs offers it here too)
from spikekit_speck.mapping import FlowGraphEdge, edmonds, find_matching, make_flow_graph

__all__ = [
    "DVSLayer",
    "DynapcnnLayer",
    "LayerConstraints",
    "find_chip_layers",
    "get_valid_mapping",
    "FlowGraphEdge",
    "edmonds",
    "make_flow_graph",
    "recover_mapping",
]


@dataclasses.dataclass
class LayerConstraints:
    """The memories of one core: kernel and neuron words, bias entries."""

    kernel_memory: int
    neuron_memory: int
    bias_memory: int

    def fits(self, layer: Any) -> bool:
        """True if ``layer`` (anything with ``memory_summary()``) fits this core."""
        summary = layer.memory_summary()
        return (
            0 <= summary["kernel"] <= self.kernel_memory
            and 0 <= summary["neuron"] <= self.neuron_memory
            and 0 <= summary["bias"] <= self.bias_memory
        )


def find_chip_layers(layer: Any, constraints: list[LayerConstraints]) -> list[int]:
    """The indices of the cores that ``layer`` fits."""
    return [i for i, constraint in enumerate(constraints) if constraint.fits(layer)]


def get_valid_mapping(layers: dict[Any, Any], constraints: list[LayerConstraints]) -> dict[int, int]:
    """``{layer index: core}`` for every DynapcnnLayer in ``layers`` (a DVSLayer is skipped), found by the
    engine's placement (:func:`spikekit_speck.mapping.find_matching`) with the layers in index order.

    Raises:
        ValueError: a layer of another type, or no assignment puts every layer on its own core
            (the message starts with "No valid mapping found.").
    """
    from spikekit_speck.dvs import DVSLayer
    from spikekit_speck.dynapcnn.dynapcnn_layer import DynapcnnLayer

    indices, candidates = [], []
    for index, layer in layers.items():
        if isinstance(layer, DynapcnnLayer):
            indices.append(index)
            candidates.append(find_chip_layers(layer, constraints))
        elif not isinstance(layer, DVSLayer):
            raise ValueError(f"Found unexpected layer type: `{type(layer)}` at index {index}")
    assignment, _ = find_matching(candidates, len(constraints))
    if any(core is None for core in assignment):
        raise ValueError(_NO_MAPPING)
    return {index: int(core) for index, core in zip(indices, assignment) if core is not None}


_NO_MAPPING = (
    "No valid mapping found. One or more of the DynapcnnLayers could not be mapped to any core. "
    "For the Speck family you can check whether it is a memory issue with "
    "`utils.validate_memory_mapping_speck()`."
)


def recover_mapping(graph: list[list[FlowGraphEdge]], num_layers: int) -> list[int]:
    """The core of each layer, read from the flows; ValueError if some layer got none."""
    mapping = []
    for i in range(1, num_layers + 1):
        for edge in graph[i]:
            if edge.flow == 1:
                mapping.append(edge.t - num_layers - 1)
    if len(mapping) != num_layers:
        raise ValueError(_NO_MAPPING)
    return mapping
