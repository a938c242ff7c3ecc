"""``from_nir``: a ``nir.NIRGraph`` (or a ``.nir`` file) to a torch module that runs the graph.

Every node becomes a named submodule through the registered import converters (dotted node names become nested
modules, so ``state_dict`` keys match the exporting model's); :class:`NIRGraphModule` runs them in topological
order, summing the inputs of a node that has several incoming edges (NIR's semantics).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import nir
from torch import nn

from spikekit_nir.conventions import Convention, ConversionError, resolve_convention
from spikekit_nir.graph_module import GraphNode, NIRGraphModule, NIRGraphState
from spikekit_nir.recurrent import RECURRENT_NEURONS, import_recurrent
from spikekit_nir.registry import DEFAULT_MAX_NODES, ImportContext, find_importer
from spikekit_nir.safe_read import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, read_nir
from spikekit_nir.structure import adjacency, execution_order, fold_recurrent_pairs
from spikekit_nir.validate import check_graph, check_parameters

__all__ = ["from_nir", "GraphNode", "NIRGraphModule", "NIRGraphState", "load_graph", "import_node"]


def load_graph(graph: nir.NIRGraph, ctx_template: ImportContext, name: str = "", depth: int = 0) -> NIRGraphModule:
    """Build the :class:`NIRGraphModule` of ``graph`` with the convention and sizes of ``ctx_template``.

    Args:
        graph: the graph.
        ctx_template: convention, sizes and ``max_depth`` for every node.
        name: the graph's node name in its parent (``""`` at the top).
        depth: how deep this graph is nested.
    """
    if depth > ctx_template.max_depth:
        raise ConversionError(
            f"from_nir: graph {name!r} is nested {depth} deep, more than max_depth={ctx_template.max_depth}"
        )
    edges = check_graph(graph, name)
    names = list(graph.nodes)
    ctx_template.count_nodes(len(names), name)
    inputs = [n for n in names if isinstance(graph.nodes[n], nir.Input)]
    outputs = [n for n in names if isinstance(graph.nodes[n], nir.Output)]
    if not inputs or not outputs:
        raise ConversionError(f"from_nir: graph {name!r} needs at least one Input and one Output node")
    adj = adjacency(names, edges)
    pairs = fold_recurrent_pairs(
        names, adj, lambda n: isinstance(graph.nodes[n], RECURRENT_NEURONS),
        lambda n: isinstance(graph.nodes[n], (nir.Affine, nir.Linear)), name,
    )  # fmt: skip
    weights_of = {pair.neuron: pair.weights for pair in pairs}
    modules: dict[str, nn.Module] = {}
    order: list[tuple[str, list[str]]] = []
    for node_name in execution_order(names, adj, skip=set(weights_of.values())):
        node = graph.nodes[node_name]
        if isinstance(node, (nir.Input, nir.Output)):
            continue
        srcs = adj.sources[node_name]
        full = f"{name}.{node_name}" if name else node_name
        if not srcs:
            raise ConversionError(f"from_nir: node {full!r} ({type(node).__name__}) has no incoming edge")
        ctx = dataclasses.replace(ctx_template, name=full, load_graph=_nested_loader(ctx_template, depth + 1))
        if node_name in weights_of:
            modules[node_name] = _recurrent(node, graph.nodes[weights_of[node_name]], weights_of[node_name], ctx)
        else:
            modules[node_name] = import_node(node, ctx)
        order.append((node_name, list(srcs)))
    out_sources = []
    for out in outputs:
        srcs = adj.sources[out]
        if not srcs:
            raise ConversionError(f"from_nir: output node {out!r} has no incoming edge")
        out_sources.append(list(srcs))
    module = NIRGraphModule(modules, inputs, outputs, order, edges=edges)
    module._set_output_sources(out_sources)
    return module


def _recurrent(node: Any, weights: Any, weights_name: str, ctx: ImportContext) -> nn.Module:
    """The recurrent module of a neuron and its weight node; a bad value names the node (as :func:`import_node`)."""
    try:
        return import_recurrent(node, weights, weights_name, ctx, import_node)
    except ConversionError:
        raise
    except Exception as exc:  # e.g. adaptation metadata that is no number
        raise ConversionError(
            f"from_nir: recurrent node {ctx.name!r} ({type(node).__name__}) cannot be built: {type(exc).__name__}: {exc}"
        ) from exc


def _nested_loader(template: ImportContext, depth: int) -> Any:
    def load_nested(sub: nir.NIRGraph, name: str) -> nn.Module:
        return load_graph(sub, template, name, depth)

    return load_nested


def import_node(node: Any, ctx: ImportContext) -> nn.Module:
    """The module of one NIR node, from the registered import converters; a clear error when there is none."""
    if not isinstance(node, nir.NIRNode):
        raise ConversionError(f"from_nir: node {ctx.name!r} is a {type(node).__name__}, not a NIR node")
    check_parameters(node, ctx.name)
    fn = find_importer(node)
    if fn is None:
        raise ConversionError(
            f"from_nir: NIR node {ctx.name!r} of type {type(node).__name__} has no spikekit counterpart (no import "
            "converter registered for it through the spikekit_converters hook)"
        )
    try:
        module = fn(node, ctx)
    except ConversionError:
        raise
    except RecursionError:
        raise ConversionError(f"from_nir: node {ctx.name!r} nests graphs too deeply for Python's stack") from None
    except Exception as exc:  # a malformed field reaching torch / numpy: name the node instead of a bare error
        raise ConversionError(
            f"from_nir: node {ctx.name!r} ({type(node).__name__}) cannot be built: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(module, nn.Module):
        raise ConversionError(
            f"from_nir: the converter for node {ctx.name!r} ({type(node).__name__}) returned "
            f"{type(module).__name__}, expected a torch.nn.Module"
        )
    return module


def from_nir(
    source: nir.NIRNode | str | Path,
    batch_size: int | None = None,
    num_timesteps: int | None = None,
    *,
    convention: str | Convention | None = None,
    dt: float | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> NIRGraphModule:
    """Build a spikekit model from a NIR graph, a single NIR node, or the path of a ``.nir`` file.

    Args:
        source: ``nir.NIRGraph``, a single ``nir.NIRNode`` (wrapped in a graph), or a path to read.
        batch_size: batch size of the data (the neuron layers are Squeeze layers taking ``(B*T, ...)``).
        num_timesteps: number of time steps per sample; one of the two is needed when the graph has neurons.
        convention: how NIR's continuous-time parameters become per-step ones: ``"sinabs"`` (default),
            ``"snntorch"``, ``"norse"`` or a :class:`~spikekit_nir.conventions.Convention`.
        dt: time step, overriding the convention's.
        max_bytes: for a path: the most data the file may declare (default 1 GiB); checked, with HDF5 external
            storage, links and virtual datasets refused, before anything is read (see :mod:`spikekit_nir.safe_read`).
        max_depth: the deepest nesting of subgraphs accepted (default 32).
        max_nodes: the most nodes the graph may hold, nested graphs included (default 10,000); checked by the
            file reader for a path and again while the model is built. The import costs O(nodes + edges).

    Raises:
        ConversionError: a malformed file or graph, an invalid parameter value or a node without counterpart; the
            message names the file, the node and the field.

    Returns:
        A :class:`NIRGraphModule`; calling it on ``(B*T, ...)`` data returns the output tensor.

    Example:
        >>> import numpy as np
        >>> g = nir.NIRGraph.from_list(nir.Affine(np.eye(2), np.zeros(2)))
        >>> from_nir(g)(torch.ones(3, 2)).shape
        torch.Size([3, 2])
    """
    where = None
    if isinstance(source, (str, Path)):
        where = str(source)
        source = _read(source, max_bytes, max_depth, max_nodes)
    if not isinstance(source, nir.NIRGraph):
        if not isinstance(source, nir.NIRNode):
            raise TypeError(f"from_nir expects a nir.NIRGraph, a nir.NIRNode or a path, got {type(source).__name__}")
        source = _single_node_graph(source)
    resolved = resolve_convention(convention, dt)
    if not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"from_nir: max_nodes must be a positive int, got {max_nodes!r}")
    template = ImportContext(
        name="", convention=resolved, batch_size=batch_size, num_timesteps=num_timesteps, max_depth=max_depth,
        max_nodes=max_nodes,
    )  # fmt: skip
    try:
        return load_graph(source, template)
    except ConversionError as exc:
        if where is None:
            raise
        raise ConversionError(f"{where}: {exc}") from exc


def _read(path: str | Path, max_bytes: int, max_depth: int, max_nodes: int) -> Any:
    """``read_nir`` with the caller's bounds (the node bound is counted again while the model is built)."""
    return read_nir(path, max_bytes=max_bytes, max_depth=max_depth, max_nodes=max_nodes)


def _single_node_graph(node: nir.NIRNode) -> nir.NIRGraph:
    try:
        input_type, output_type = node.input_type, node.output_type
    except AttributeError as exc:
        raise ConversionError(f"from_nir: the {type(node).__name__} node has no input/output type ({exc})") from exc
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=input_type), "model": node, "output": nir.Output(output_type=output_type)},
        edges=[("input", "model"), ("model", "output")],
        type_check=False,
    )
