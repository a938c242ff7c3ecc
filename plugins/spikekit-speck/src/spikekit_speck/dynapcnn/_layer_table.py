"""The table of chip layers that sinabs's graph pass builds (``GraphExtractor.dcnnl_info``), made from the
engine's trace and plan.

One entry per chip layer, keyed by the plan's layer index: ``"input_shape"``, ``"conv"`` and ``"neuron"`` (each
``{"module": the model's layer, "node_id": its graph node}``), ``"is_entry_node"``, and ``"destinations"``, one per
output: the pooling layers on the way (``"pooling_ids"``, ``"pooling_modules"``), ``"destination_layer"`` (``None``:
an output of the network) and ``"output_shape"``. The table is then completed by
:func:`~.dynapcnn_layer_utils.finalize_dcnnl_map`, as sinabs completes it, and each ``"rescale_factor"`` is the
one the network uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spikekit_speck.dynapcnn.dynapcnn_layer_utils import finalize_dcnnl_map
from spikekit_speck.graph import NetworkPlan, TracedNode

_Chain = tuple[int | None, list[int]]  # (destination chip layer or None, pooling nodes on the way)


class _Walk:
    def __init__(self, nodes: list[TracedNode], out_nodes: list[int], targets: Callable[[int], list[int]]) -> None:
        self.nodes, self.out_nodes, self.targets = nodes, set(out_nodes), targets
        self.layer_of: dict[int, int] = {}

    def from_neuron(self, neuron: int) -> list[_Chain]:
        found: list[_Chain] = [(None, [])] if neuron in self.out_nodes else []
        for j in self.targets(neuron):
            found += self.chains(j, [])
        return found or [(None, [])]

    def chains(self, i: int, pooling: list[int]) -> list[_Chain]:
        if self.nodes[i].kind in ("conv", "linear"):
            return [(self.layer_of[i], pooling)]
        if self.nodes[i].kind != "pool":  # the plan refused anything else here
            return []
        pooling = [*pooling, i]
        found: list[_Chain] = [(None, pooling)] if i in self.out_nodes else []
        for j in self.targets(i):
            found += self.chains(j, pooling)
        return found or [(None, pooling)]


def _shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (*shape, 1, 1) if len(shape) == 1 else shape


def layer_table(
    nodes: list[TracedNode],
    out_nodes: list[int],
    plan: NetworkPlan,
    targets: Callable[[int], list[int]],
    rescale_fn: Callable[[set[float]], float],
) -> dict[int, dict[str, Any]]:
    """sinabs's ``dcnnl_info`` of ``plan`` (see the module's description); ``targets(i)`` gives the nodes that node
    ``i`` feeds, looking through Flatten, Identity, BatchNorm and Merge."""
    index_of = {node.name: i for i, node in enumerate(nodes)}
    walk = _Walk(nodes, out_nodes, targets)
    walk.layer_of = {index_of[layer.name]: layer.index for layer in plan.layers}
    table: dict[int, dict[str, Any]] = {}
    for layer in plan.layers:
        conv, neuron = index_of[layer.name], index_of[layer.neuron_name]
        destinations = []
        for target, pooling in walk.from_neuron(neuron):
            last = pooling[-1] if pooling else neuron
            destinations.append(
                {
                    "pooling_ids": pooling,
                    "pooling_modules": [nodes[p].module for p in pooling],
                    "destination_layer": target,
                    "output_shape": _shape(nodes[last].out_shape),
                }
            )
        table[layer.index] = {
            "input_shape": layer.input_shape,
            "conv": {"module": nodes[conv].module, "node_id": conv},
            "neuron": {"module": nodes[neuron].module, "node_id": neuron},
            "rescale_factors": set(),
            "is_entry_node": layer.index in plan.entry_layers,
            "destinations": destinations,
        }
    finalize_dcnnl_map(table, None, rescale_fn)
    for layer in plan.layers:  # the weight scale the network uses (an AvgPool after the DVS layer included)
        table[layer.index]["rescale_factor"] = layer.rescale_factor
    return table
