"""Helpers on a model's graph as a set of edges ``(source node, target node)`` (sinabs's
``sinabs.backend.dynapcnn.sinabs_edges_handler``, the parts that stand on their own).

sinabs's module also holds the steps of its own graph pass (DVS edge fixing, building its table of chip layers entry
by entry); spikekit-speck's graph pass is :class:`~.nir_graph_extractor.GraphExtractor`, whose
``dcnnl_info`` is that table, so those steps are not offered one by one.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from torch import nn

from spikekit.layers import SumPool2d
from spikekit_speck.dvs import Crop2d, DVSLayer, FlipDims
from spikekit_speck.dynapcnn.connectivity_specs import VALID_SINABS_EDGE_TYPES
from spikekit_speck.dynapcnn.exceptions import InvalidEdge, InvalidGraphStructure
from spikekit_speck.layers import merge_bn

__all__ = [
    "Crop2d",
    "DVSLayer",
    "FlipDims",
    "InvalidEdge",
    "InvalidGraphStructure",
    "SumPool2d",
    "find_edges_by_source",
    "get_valid_edge_type",
    "handle_batchnorm_nodes",
    "merge_bn",
    "remap_edges_after_drop",
    "sort_edges_by_type",
    "trace_paths",
]

Edge = tuple[int, int]


def remap_edges_after_drop(dropped_node: int, source_of_dropped_node: int, edges: set[Edge]) -> set[Edge]:
    """The edges leaving ``dropped_node``, each now leaving ``source_of_dropped_node`` (same targets)."""
    return {(source_of_dropped_node, target) for source, target in edges if source == dropped_node}


def get_valid_edge_type(edge: Edge, layers: dict[int, nn.Module], valid_edge_ids: dict[tuple[type, type], Any]) -> Any:
    """The entry of ``valid_edge_ids`` for the exact types of ``edge``'s two layers, ``None`` if there is none."""
    return valid_edge_ids.get((type(layers[edge[0]]), type(layers[edge[1]])))


def sort_edges_by_type(edges: set[Edge], indx_2_module_map: dict[int, nn.Module]) -> dict[str, set[Edge]]:
    """The edges grouped by kind of connection (``"weight-neuron"``, ``"neuron-pooling"``, ...).

    Raises:
        InvalidEdge: an edge joins two layers that the chip cannot connect.
    """
    found: dict[str, set[Edge]] = {}
    for edge in edges:
        kind = get_valid_edge_type(edge, indx_2_module_map, VALID_SINABS_EDGE_TYPES)
        if kind is None:
            raise InvalidEdge(edge, type(indx_2_module_map[edge[0]]), type(indx_2_module_map[edge[1]]))
        found.setdefault(kind, set()).add(edge)
    return found


def find_edges_by_source(edges: set[Edge], source: int) -> set[Edge]:
    """The edges that leave ``source``."""
    return {(s, t) for s, t in edges if s == source}


def trace_paths(node: int, remaining_edges: set[Edge]) -> tuple[list[deque[int]], set[Edge]]:
    """Every path from ``node`` along ``remaining_edges`` to a node with no edge left (each a deque of nodes,
    ``node`` first), and the edges the paths use; each edge is used at most once."""
    paths: list[deque[int]] = []
    used: set[Edge] = set()
    for edge in sorted(find_edges_by_source(remaining_edges, node)):
        if edge in used:
            continue
        used.add(edge)
        branches, below = trace_paths(edge[1], remaining_edges - used)
        used |= below
        for branch in branches:
            branch.appendleft(node)
            paths.append(branch)
    return (paths or [deque([node])]), used


def _weight_bn_pairs(edges: set[Edge], modules: dict[int, nn.Module]) -> set[Edge]:
    """The edges from a Conv2d into a BatchNorm2d or from a Linear into a BatchNorm1d."""
    return {
        (a, b)
        for a, b in edges
        if (isinstance(modules[a], nn.Conv2d) and isinstance(modules[b], nn.BatchNorm2d))
        or (isinstance(modules[a], nn.Linear) and isinstance(modules[b], nn.BatchNorm1d))
    }


def handle_batchnorm_nodes(
    edges: set[Edge], indx_2_module_map: dict[int, nn.Module], name_2_indx_map: dict[str, int]
) -> None:
    """Fold each BatchNorm that follows a Conv2d / Linear into it and drop every BatchNorm node from the graph (all
    three arguments changed in place): the weight node gets the folded layer (:func:`merge_bn`, a new module) and
    the BatchNorm's outgoing edges."""
    bn_nodes = {i for i, m in indx_2_module_map.items() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))}
    if not bn_nodes:
        return
    pairs = _weight_bn_pairs(edges, indx_2_module_map)
    for weight, bn in pairs:
        layer, norm = indx_2_module_map[weight], indx_2_module_map[bn]
        assert isinstance(layer, (nn.Conv2d, nn.Linear)) and isinstance(norm, (nn.BatchNorm1d, nn.BatchNorm2d))
        indx_2_module_map[weight] = merge_bn(layer, norm)
    rewired = set().union(*(remap_edges_after_drop(bn, weight, edges) for weight, bn in pairs))
    edges.difference_update({e for e in edges if bn_nodes & set(e)})
    edges.update(rewired)
    for index in bn_nodes:
        del indx_2_module_map[index]
    for name in [n for n, i in name_2_indx_map.items() if i in bn_nodes]:
        del name_2_indx_map[name]
