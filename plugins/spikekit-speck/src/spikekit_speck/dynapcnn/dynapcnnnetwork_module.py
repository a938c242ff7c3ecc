"""``DynapcnnNetworkModule``: runs a graph of DynapcnnLayers (sinabs's ``dynapcnnnetwork_module``).

Layers are run in topological order; a layer with several sources gets the sum of their outputs (a ``Merge``, which
zero-pads to the larger shape, as the chip adds events arriving at one core); each layer sends one output per
destination. Destinations that are negative numbers are the network's exits.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from pprint import pformat
from typing import Any, cast

from torch import Tensor, nn

from spikekit_speck.dynapcnn.dvs_layer import DVSLayer
from spikekit_speck.dynapcnn.dynapcnn_layer import DynapcnnLayer
from spikekit_speck.dynapcnn.utils import Edge, topological_sorting

__all__ = ["DynapcnnNetworkModule"]


class DynapcnnNetworkModule(nn.Module):
    """Forward (and backward) passes through a graph of ``DynapcnnLayer`` s.

    Args:
        dynapcnn_layers: ``{index: DynapcnnLayer}``.
        destination_map: ``{index: [destination index, ...]}``, exits as negative numbers; ``"dvs"`` for the DVS.
        entry_points: the indices (or ``{"dvs"}``) that receive the network input.
        dvs_node_info: ``{"module": DVSLayer, ...}`` or None.
    """

    def __init__(
        self,
        dynapcnn_layers: Mapping[int, DynapcnnLayer],
        destination_map: dict[Any, list[int]],
        entry_points: set[Any],
        dvs_node_info: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        from spikekit.layers import Merge

        self._dvs_node_info = dvs_node_info
        self._dynapcnn_layers = nn.ModuleDict({str(i): layer for i, layer in dynapcnn_layers.items()})
        self._dvs_layer = None if dvs_node_info is None else dvs_node_info["module"]
        self._destination_map = destination_map
        self._entry_points = entry_points
        self.merge_layer = Merge()

    @property
    def all_layers(self) -> dict[Any, nn.Module]:
        layers: dict[Any, nn.Module] = dict(self.dynapcnn_layers)
        if self.dvs_layer is not None:
            layers["dvs"] = self.dvs_layer
        return layers

    @property
    def dvs_node_info(self) -> dict[str, Any] | None:
        return self._dvs_node_info

    @property
    def dvs_layer(self) -> DVSLayer | None:
        return self._dvs_layer

    @property
    def destination_map(self) -> dict[Any, list[int]]:
        return self._destination_map

    @property
    def dynapcnn_layers(self) -> dict[int, DynapcnnLayer]:
        # The ModuleDict holds the DynapcnnLayers given to the constructor (ModuleDict types its values as Module).
        layers = sorted(self._dynapcnn_layers.items(), key=lambda kv: int(kv[0]))
        return {int(i): cast(DynapcnnLayer, layer) for i, layer in layers}

    @property
    def entry_points(self) -> set[Any]:
        return self._entry_points

    @property
    def sorted_nodes(self) -> list[Any]:
        return self._sorted_nodes

    @property
    def node_source_map(self) -> dict[Any, list[Any]]:
        return self._node_source_map

    def get_exit_layers(self) -> list[int]:
        """Indices of the layers with at least one exit destination."""
        return [i for i, dests in self.destination_map.items() if any(d < 0 for d in dests)]

    def get_exit_points(self) -> dict[int, list[dict[str, Any]]]:
        """For each exit layer: its exits' ids, positions among the destinations, and poolings."""
        exits: dict[int, list[dict[str, Any]]] = {}
        for i, dests in self.destination_map.items():
            found = [
                {"destination_id": d, "destination_index": k, "pooling": self.dynapcnn_layers[i].pool[k]}
                for k, d in enumerate(dests)
                if d < 0
            ]
            if found:
                exits[i] = found
        return exits

    def setup_dynapcnnlayer_graph(self, index_layers_topologically: bool = False) -> None:
        """Work out the run order and each layer's sources (and renumber the layers in that order if asked)."""
        self._dynapcnnlayer_edges = self.get_dynapcnnlayers_edges()
        self.add_entry_points_edges(self._dynapcnnlayer_edges)
        self._sorted_nodes = topological_sorting(self._dynapcnnlayer_edges)
        self._node_source_map = self.get_node_source_map(self._dynapcnnlayer_edges)
        if index_layers_topologically:
            self.reindex_layers(self._sorted_nodes)

    def get_dynapcnnlayers_edges(self) -> set[Edge]:
        """``(source, target)`` for every connection between layers (exits left out)."""
        return {(i, d) for i, dests in self._destination_map.items() for d in dests if d >= 0}

    def add_entry_points_edges(self, dcnnl_edges: set[tuple[Any, int]]) -> None:
        """Add ``("input", X)`` for each entry point X (in place)."""
        dcnnl_edges.update(("input", i) for i in self._entry_points)

    def get_node_source_map(self, dcnnl_edges: set[tuple[Any, int]]) -> dict[Any, list[Any]]:
        """``{target: [sources]}``."""
        sources: dict[Any, list[Any]] = {}
        for src, trg in dcnnl_edges:
            sources.setdefault(trg, []).append(src)
        return sources

    def forward(self, x: Tensor, return_complete: bool = False) -> Tensor | dict[Any, dict[int, Tensor]]:
        """Run every layer; return the exit output (one tensor if there is one exit), or all outputs.

        Args:
            x: input of the entry layers, ``(batch*time, C, H, W)``.
            return_complete: return ``{layer: {destination: output}}`` for every layer.
        """
        if not hasattr(self, "_sorted_nodes"):
            raise RuntimeError(
                "It looks like `setup_dynapcnnlayers_graph` has never been executed. "
                "It needs to be called at least once before calling `forward`."
            )
        outputs: dict[Any, dict[Any, Tensor]] = {"input": {ep: x for ep in self.entry_points}}
        all_layers = self.all_layers
        for node in self._sorted_nodes:
            sources = self._node_source_map[node]
            if len(sources) > 1:
                # Merge sums two tensors; more sources are summed pairwise (sinabs passes them all to one Merge
                # call, which fails for three).
                current = functools.reduce(self.merge_layer, [outputs[src][node] for src in sources])
            else:
                current = outputs[sources[0]][node]
            layer = all_layers[node]
            destinations = self._destination_map[node]
            out = layer(current)
            if len(destinations) == 1:
                outputs[node] = {destinations[0]: out}
            elif isinstance(layer, DVSLayer):
                outputs[node] = dict.fromkeys(destinations, out)
            else:
                outputs[node] = dict(zip(destinations, out))
        if return_complete:
            return outputs
        exits = {}
        for node, outs in outputs.items():
            found = {d: o for d, o in outs.items() if isinstance(d, int) and d < 0}
            if found:
                exits[node] = found
        if not exits:
            warnings.warn(
                "No exit points have been found. Try setting `return_complete` `True` to get all outputs, or mark "
                "exit points by setting corresponding destination layer indices in destination_map to negative "
                "integer values",
                stacklevel=2,
            )
            return {}
        if len(exits) == 1 and len(only := next(iter(exits.values()))) == 1:
            return next(iter(only.values()))
        return exits

    def reindex_layers(self, index_order: list[Any]) -> None:
        """Renumber the layers: the layer at position ``k`` of ``index_order`` becomes layer ``k``."""
        mapping = {old: new for new, old in enumerate(index_order)}

        def remap(key: Any) -> Any:
            if key in ("dvs", "input") or (isinstance(key, int) and key < 0):
                return key
            return mapping[key]

        self._dynapcnn_layers = nn.ModuleDict({str(remap(int(i))): layer for i, layer in self._dynapcnn_layers.items()})
        self._entry_points = {remap(i) for i in self._entry_points}
        self._destination_map = {remap(i): [remap(d) for d in ds] for i, ds in self._destination_map.items()}
        self._dynapcnnlayer_edges = {(remap(s), remap(t)) for s, t in self._dynapcnnlayer_edges}
        self._sorted_nodes = [remap(i) for i in self._sorted_nodes]
        self._node_source_map = {remap(n): [remap(s) for s in ss] for n, ss in self._node_source_map.items()}

    def __repr__(self) -> str:
        return f"DVS Layer: {pformat(self.dvs_layer)}\n\nDynapCNN Layers:\n" + pformat(self.dynapcnn_layers)
