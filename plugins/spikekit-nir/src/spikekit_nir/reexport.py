"""``to_nir`` of a :class:`~spikekit_nir.graph_module.NIRGraphModule` (what ``from_nir`` returns): its own graph.

No tracing is needed: the module knows its nodes, their order and the graph's edges. Every node is exported by the
registered converter of its module (a nested ``NIRGraphModule`` becomes a nested graph); the sample runs through
the nodes once, as in any export, to give every node its shapes. Edges that end at a node that left no NIR node
(the weights of a recurrent pair, now inside the recurrent node's graph; a routing module) are rewired or dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import nir
import numpy as np
import torch

from spikekit_nir.conventions import Convention, ConversionError
from spikekit_nir.graph_module import NIRGraphModule
from spikekit_nir.recurrent import RecurrentNode, inline_recurrent
from spikekit_nir.registry import PASSTHROUGH, ExportContext, find_exporter, stamp

__all__ = ["graph_module_to_nir"]


def _sum(xs: list[torch.Tensor]) -> torch.Tensor:
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def _types(x: torch.Tensor, n_ignored: int) -> np.ndarray:
    return np.array(tuple(x.shape[n_ignored:]), dtype=np.int64)


def _export_node(module: Any, name: str, x: torch.Tensor, convention: Convention, table: dict[Any, Callable[..., Any]],
                 n_ignored: int) -> tuple[Any, torch.Tensor]:  # fmt: skip
    if isinstance(module, NIRGraphModule):
        return graph_module_to_nir(module, x, convention, table, n_ignored, prefix=f"{name}.")
    out = module(x)
    converter = find_exporter(module, table)
    if converter is None:
        raise ConversionError(f"to_nir: node {name!r} ({type(module).__name__}) has no NIR converter")
    context = ExportContext(name, convention, tuple(x.shape[n_ignored:]), tuple(out.shape[n_ignored:]), n_ignored)
    node = converter(module, context)
    stamp(node, module)
    return node, out


def graph_module_to_nir(
    module: NIRGraphModule, sample: torch.Tensor, convention: Convention, table: dict[Any, Callable[..., Any]],
    n_ignored: int, prefix: str = "",
) -> tuple[nir.NIRGraph, torch.Tensor]:  # fmt: skip
    """(the NIR graph of ``module``, its output on ``sample``); node names as in the module's graph."""
    if len(module.input_names) != 1:
        raise ConversionError(
            f"to_nir: the imported graph has {len(module.input_names)} inputs; to_nir takes one sample tensor"
        )
    values: dict[str, torch.Tensor] = {module.input_names[0]: sample}
    nodes: dict[str, Any] = {module.input_names[0]: nir.Input(input_type={"input": _types(sample, n_ignored)})}
    routing: set[str] = set()
    for name, sub, srcs in module._calls:
        node, values[name] = _export_node(sub, prefix + name, _sum([values[s] for s in srcs]), convention, table,
                                          n_ignored)  # fmt: skip
        if node is PASSTHROUGH:
            routing.add(name)
        elif isinstance(sub, RecurrentNode) and sub.weights_name is not None and isinstance(node, nir.NIRGraph):
            node.metadata = {"spikekit_names": [name, sub.weights_name]}  # written back under the imported names
        nodes[name] = node
    outs = []
    for name, srcs in zip(module.output_names, module._output_sources):
        outs.append(_sum([values[s] for s in srcs]))
        nodes[name] = nir.Output(output_type={"output": _types(outs[-1], n_ignored)})
    edges = _rewire([(a, b) for a, b in module.edges if a in nodes and b in nodes], routing)
    kept = {k: v for k, v in nodes.items() if k not in routing}
    edges = inline_recurrent(kept, edges)
    graph = nir.NIRGraph(nodes=kept, edges=edges, type_check=False)
    return graph, outs[0]


def _rewire(edges: list[tuple[str, str]], routing: set[str]) -> list[tuple[str, str]]:
    """Each routing node replaced by edges from its sources to its consumers (linear in the edges)."""
    if not routing:
        return edges
    sources: dict[str, list[str]] = {n: [] for n in routing}
    for a, b in edges:
        if b in routing:
            sources[b].append(a)

    resolved: dict[str, list[str]] = {}

    def roots(name: str) -> list[str]:
        """The non-routing nodes that feed ``name`` through routing nodes (iterative, each node resolved once)."""
        stack = [name]
        while stack:
            top = stack[-1]
            pending = [s for s in sources[top] if s in routing and s not in resolved]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            found = [r for s in sources[top] for r in (resolved[s] if s in routing else [s])]
            resolved[top] = list(dict.fromkeys(found))
        return resolved[name]

    out: list[tuple[str, str]] = []
    for a, b in edges:
        if b not in routing:
            out.extend((r, b) for r in (roots(a) if a in routing else [a]))
    return list(dict.fromkeys(out))
