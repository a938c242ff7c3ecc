"""Placing DynapcnnLayers on cores (sinabs's ``sinabs.backend.dynapcnn.mapping``).

A layer fits a core when its kernel, neuron and bias memories fit the core's. The assignment is a maximum bipartite
matching, found as a maximum flow (source -> layers -> cores -> sink, unit capacities) with breadth-first augmenting
paths (Edmonds-Karp). Layers and cores are visited in index order, so the result is the one sinabs finds.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import Any

from spikekit_speck.dynapcnn.exceptions import InvalidModel  # noqa: F401  (sinabs offers it here too)

__all__ = [
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
    """``{layer index: core}`` for every DynapcnnLayer in ``layers`` (a DVSLayer is skipped).

    Raises:
        ValueError: a layer of another type, or no assignment puts every layer on its own core
            (the message starts with "No valid mapping found.").
    """
    from spikekit_speck.dynapcnn.dvs_layer import DVSLayer
    from spikekit_speck.dynapcnn.dynapcnn_layer import DynapcnnLayer

    indices, candidates = [], []
    for index, layer in layers.items():
        if isinstance(layer, DynapcnnLayer):
            indices.append(index)
            candidates.append(find_chip_layers(layer, constraints))
        elif not isinstance(layer, DVSLayer):
            raise ValueError(f"Found unexpected layer type: `{type(layer)}` at index {index}")
    graph = edmonds(make_flow_graph(candidates, len(constraints)), 0, len(candidates) + len(constraints) + 1)
    return dict(zip(indices, recover_mapping(graph, len(candidates))))


@dataclasses.dataclass(eq=False)
class FlowGraphEdge:
    """An edge ``s -> t`` of the flow graph with its capacity, current flow and reverse edge."""

    s: int
    t: int
    cap: int
    flow: int = 0
    rev: FlowGraphEdge | None = None

    def __repr__(self) -> str:
        return f"FlowGraphEdge from {self.s} to {self.t} with capacity {self.cap} and flow {self.flow}"


def _connect(graph: list[list[FlowGraphEdge]], s: int, t: int) -> None:
    forward, backward = FlowGraphEdge(s, t, 1), FlowGraphEdge(t, s, 0)
    forward.rev, backward.rev = backward, forward
    graph[s].append(forward)
    graph[t].append(backward)


def make_flow_graph(layer_mapping: list[list[int]], num_layers: int = 9) -> list[list[FlowGraphEdge]]:
    """The flow network: node 0 the source, 1..L the layers, then ``num_layers`` cores, then the sink.

    Args:
        layer_mapping: for each layer, the cores it fits.
        num_layers: the number of cores.
    """
    n_layers = len(layer_mapping)
    offset = n_layers + 1
    sink = offset + num_layers
    graph: list[list[FlowGraphEdge]] = [[] for _ in range(sink + 1)]
    for i in range(n_layers):
        _connect(graph, 0, i + 1)
    for i, cores in enumerate(layer_mapping):
        for core in cores:
            _connect(graph, i + 1, core + offset)
    for core_node in range(offset, sink):
        _connect(graph, core_node, sink)
    return graph


def edmonds(
    graph: list[list[FlowGraphEdge]], source: int, sink: int, verbose: bool = False
) -> list[list[FlowGraphEdge]]:
    """Maximum flow by breadth-first augmenting paths, on a copy of ``graph`` (returned with its flows)."""
    import copy

    graph = copy.deepcopy(graph)
    while True:
        pred: list[FlowGraphEdge | None] = [None] * len(graph)
        queue = deque([source])
        while queue:
            node = queue.popleft()
            for edge in graph[node]:
                if pred[edge.t] is None and edge.t != source and edge.cap > edge.flow:
                    pred[edge.t] = edge
                    queue.append(edge.t)
        if pred[sink] is None:
            return graph
        delta = min(e.cap - e.flow for e in _path(pred, sink))
        for edge in _path(pred, sink):
            edge.flow += delta
            assert edge.rev is not None
            edge.rev.flow -= delta
        if verbose:
            print(f"augmented the flow by {delta}")


def _path(pred: list[FlowGraphEdge | None], sink: int) -> list[FlowGraphEdge]:
    path = []
    edge = pred[sink]
    while edge is not None:
        path.append(edge)
        edge = pred[edge.s]
    return path


def recover_mapping(graph: list[list[FlowGraphEdge]], num_layers: int) -> list[int]:
    """The core of each layer, read from the flows; ValueError if some layer got none."""
    mapping = []
    for i in range(1, num_layers + 1):
        for edge in graph[i]:
            if edge.flow == 1:
                mapping.append(edge.t - num_layers - 1)
    if len(mapping) != num_layers:
        raise ValueError(
            "No valid mapping found. One or more of the DynapcnnLayers could not be mapped to any core. "
            "For the Speck family you can check whether it is a memory issue with "
            "`utils.validate_memory_mapping_speck()`."
        )
    return mapping
