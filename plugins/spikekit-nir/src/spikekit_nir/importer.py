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
import torch
from torch import nn

from spikekit_nir.conventions import Convention, ConversionError, resolve_convention
from spikekit_nir.registry import ImportContext, find_importer
from spikekit_nir.safe_read import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, read_nir
from spikekit_nir.validate import check_graph, check_parameters

__all__ = ["from_nir", "NIRGraphModule"]


@dataclasses.dataclass
class GraphNode:
    """One node of the graph a :class:`NIRGraphModule` runs (the shape of nirtorch's ``Node``).

    Attributes:
        name: the node's name in the graph (sinabs / nirtorch write dots as ``_`` here; see ``NIRGraphModule``).
        elem: the module that computes it (``nn.Identity`` for Input and Output nodes).
        outgoing_nodes: ``{consumer node: None}``.
    """

    name: str
    elem: nn.Module
    outgoing_nodes: dict[GraphNode, None] = dataclasses.field(default_factory=dict)

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __repr__(self) -> str:
        return f"Node: {self.name} ({type(self.elem).__name__}), Out: {len(self.outgoing_nodes)}"


@dataclasses.dataclass
class NIRGraphState:
    """What ``NIRGraphModule`` returns beside the output when ``return_state`` is set (nirtorch's state shape).

    Attributes:
        state: always empty: spikekit's neuron layers keep their states inside the modules.
        cache: ``{node name: its output}`` of the last call.
    """

    state: dict[str, Any] = dataclasses.field(default_factory=dict)
    cache: dict[str, Any] = dataclasses.field(default_factory=dict)


class _GraphView:
    """The parts of nirtorch's ``TorchGraph`` that code reads from ``executor.graph``."""

    def __init__(self, nodes: list[GraphNode], inputs: list[GraphNode]) -> None:
        self.node_list = nodes
        self.inputs = inputs
        self.module_names = {node.elem: node.name for node in nodes}

    def find_node(self, elem: nn.Module) -> GraphNode:
        for node in self.node_list:
            if node.elem is elem:
                return node
        raise ValueError("elem not found")

    def find_source_nodes_of(self, node: GraphNode) -> list[GraphNode]:
        return [src for src in self.node_list if node in src.outgoing_nodes]

    def get_edges(self) -> list[tuple[str, str]]:
        return [(node.name, out.name) for node in self.node_list for out in node.outgoing_nodes]

    def get_root(self) -> list[GraphNode]:
        return list(self.inputs)


class NIRGraphModule(nn.Module):
    """Runs a NIR graph: its nodes are submodules, called in topological order.

    ``forward(*inputs)`` takes one tensor per ``Input`` node (in the graph's order) and returns the tensor of the
    single ``Output`` node (a tuple when there are several); with ``return_state = True`` it returns
    ``(output, NIRGraphState)`` as the ``GraphExecutor`` of sinabs / nirtorch does. Data are in spikekit's squeezed
    layout ``(B*T, ...)``, like the Squeeze neuron layers it contains.

    Every node is a submodule named after it (dotted names nest, so ``state_dict`` keys match the exporting model);
    Input and Output nodes are ``nn.Identity`` submodules, as in sinabs's result. A node whose name clashes with an
    attribute of the module (``forward``, ``training``, ``execution_order``, ...) is registered under that name with
    ``_`` appended; :meth:`get_node` and :attr:`modules_by_name` always take the graph's names, and the names
    sinabs / nirtorch use (dots replaced by ``_``) also work as attributes.

    Attributes:
        input_names, output_names: the graph's Input / Output node names.
        order: ``(node name, names of its sources)`` in execution order (compute nodes only).
        execution_order: every node (Input and Output included) as a :class:`GraphNode`, in execution order.
        graph: the nodes, with nirtorch's look-ups (``module_names``, ``inputs``, ``node_list``, ``find_node``,
            ``find_source_nodes_of``, ``get_edges``, ``get_root``).
        return_state: return ``(output, state)`` instead of the output (default False).
        stateful_modules: always empty (spikekit's layers keep their own state).
    """

    def __init__(self, modules: dict[str, nn.Module], input_names: list[str], output_names: list[str],
                 order: list[tuple[str, list[str]]], edges: list[tuple[str, str]] | None = None) -> None:  # fmt: skip
        super().__init__()
        self.input_names = list(input_names)
        self.output_names = list(output_names)
        self.order = [(name, list(srcs)) for name, srcs in order]
        self.return_state = False
        self.stateful_modules: set[str] = set()
        self._paths: dict[str, str] = {}
        # set before the nodes are attached, so that a node of the same name is seen to clash with them
        self.execution_order: list[GraphNode] = []
        self.graph: _GraphView | None = None
        self._nodes: dict[str, GraphNode] = {}
        self._calls: list[Any] = []
        self._output_sources: list[list[str]] = []
        all_modules: dict[str, nn.Module] = {name: _marked_identity("input") for name in self.input_names}
        all_modules.update(modules)
        all_modules.update({name: _marked_identity("output") for name in self.output_names})
        for name, module in all_modules.items():
            self._paths[name] = _attach(self, name, module)
        self._calls = [(name, self.get_submodule(self._paths[name]), srcs) for name, srcs in self.order]
        self._build_nodes(edges if edges is not None else [(s, n) for n, srcs in self.order for s in srcs])

    def _build_nodes(self, edges: list[tuple[str, str]]) -> None:
        sequence = [*self.input_names, *(name for name, _ in self.order), *self.output_names]
        nodes = {name: GraphNode(sanitize_name(name), self.get_submodule(self._paths[name])) for name in sequence}
        for a, b in edges:
            if a in nodes and b in nodes:
                nodes[a].outgoing_nodes[nodes[b]] = None
        self._nodes = nodes
        self.execution_order = [nodes[name] for name in sequence]
        self.graph = _GraphView(self.execution_order, [nodes[name] for name in self.input_names])

    @property
    def modules_by_name(self) -> dict[str, nn.Module]:
        """``{node name in the graph: module}`` for every node, Input and Output included."""
        return {name: node.elem for name, node in self._nodes.items()}

    @property
    def input_nodes(self) -> list[GraphNode]:
        """The Input nodes."""
        return [self._nodes[name] for name in self.input_names]

    @property
    def output_nodes(self) -> list[GraphNode]:
        """The Output nodes."""
        return [self._nodes[name] for name in self.output_names]

    def get_input_nodes(self) -> list[GraphNode]:
        """The Input nodes (nirtorch's ``GraphExecutor.get_input_nodes``)."""
        return self.input_nodes

    def get_execution_order(self) -> list[GraphNode]:
        """Every node in execution order (nirtorch's ``GraphExecutor.get_execution_order``)."""
        return list(self.execution_order)

    def get_node(self, name: str) -> nn.Module:
        """The module of the node called ``name`` in the graph (or by its nirtorch name, dots as ``_``)."""
        if name in self._nodes:
            return self._nodes[name].elem
        for node in self._nodes.values():
            if node.name == name:
                return node.elem
        raise KeyError(f"NIRGraphModule has no node {name!r}; nodes: {list(self._nodes)}")

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            nodes = self.__dict__.get("_nodes")
            for node in (nodes or {}).values():
                if node.name == name:  # nirtorch's attribute names: dots replaced by "_"
                    return node.elem
            raise

    def forward(self, *inputs: torch.Tensor, state: NIRGraphState | None = None) -> Any:
        if len(inputs) != len(self.input_names):
            raise TypeError(
                f"NIRGraphModule expects {len(self.input_names)} input(s) ({', '.join(self.input_names)}), "
                f"got {len(inputs)}"
            )
        values: dict[str, torch.Tensor] = dict(zip(self.input_names, inputs))
        for name, module, srcs in self._calls:
            values[name] = module(_sum([values[s] for s in srcs]))  # NIR sums every edge into a node
        outs = tuple(_sum([values[s] for s in srcs]) for srcs in self._output_sources)
        out = outs[0] if len(outs) == 1 else outs
        if not self.return_state:
            return out
        values.update(zip(self.output_names, outs))
        return out, NIRGraphState(cache={sanitize_name(k): v for k, v in values.items()})

    def _set_output_sources(self, sources: list[list[str]]) -> None:
        self._output_sources = sources


def sanitize_name(name: str) -> str:
    """The name nirtorch gives a node's module: dots replaced by ``_``."""
    return name.replace(".", "_")


def _marked_identity(kind: str) -> nn.Module:
    module = nn.Identity()
    module.node_type = kind  # what nirtorch sets on the Identity of an Input / Output node
    return module


def _sum(xs: list[torch.Tensor]) -> torch.Tensor:
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def _free(parent: nn.Module, part: str) -> bool:
    """``part`` can be registered on ``parent`` without clashing with an attribute or an existing child."""
    return part not in parent._modules and not hasattr(type(parent), part) and part not in parent.__dict__


def _attach(root: nn.Module, name: str, module: nn.Module) -> str:
    """Register ``module`` under the dotted ``name`` (creating plain containers), or a free flat name."""
    parts = name.split(".")
    if all(p.isidentifier() or p.isdigit() for p in parts):
        parent = root
        ok = True
        for p in parts[:-1]:
            child = parent._modules.get(p)
            if child is None and _free(parent, p):
                child = nn.Module()
                parent.add_module(p, child)
            elif child is None or type(child) is not nn.Module:  # a node module or an attribute sits there
                ok = False
                break
            parent = child
        if ok and _free(parent, parts[-1]):
            parent.add_module(parts[-1], module)
            return name
    flat = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    while not _free(root, flat):
        flat += "_"
    root.add_module(flat, module)
    return flat


def _topological(names: list[str], edges: list[tuple[str, str]]) -> list[str]:
    incoming = {n: 0 for n in names}
    for _, b in edges:
        incoming[b] += 1
    ready = [n for n in names if incoming[n] == 0]
    order: list[str] = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for a, b in edges:
            if a == n:
                incoming[b] -= 1
                if incoming[b] == 0:
                    ready.append(b)
    if len(order) != len(names):
        stuck = [n for n in names if n not in order]
        raise ConversionError(
            f"from_nir: the graph has a cycle through {stuck}; recurrent NIR graphs are not supported by spikekit"
        )
    return order


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
    inputs = [n for n in names if isinstance(graph.nodes[n], nir.Input)]
    outputs = [n for n in names if isinstance(graph.nodes[n], nir.Output)]
    if not inputs or not outputs:
        raise ConversionError(f"from_nir: graph {name!r} needs at least one Input and one Output node")
    modules: dict[str, nn.Module] = {}
    order: list[tuple[str, list[str]]] = []
    for node_name in _topological(names, edges):
        node = graph.nodes[node_name]
        if isinstance(node, (nir.Input, nir.Output)):
            continue
        srcs = [a for a, b in edges if b == node_name]
        full = f"{name}.{node_name}" if name else node_name
        if not srcs:
            raise ConversionError(f"from_nir: node {full!r} ({type(node).__name__}) has no incoming edge")
        ctx = dataclasses.replace(ctx_template, name=full, load_graph=_nested_loader(ctx_template, depth + 1))
        modules[node_name] = import_node(node, ctx)
        order.append((node_name, srcs))
    out_sources = []
    for out in outputs:
        srcs = [a for a, b in edges if b == out]
        if not srcs:
            raise ConversionError(f"from_nir: output node {out!r} has no incoming edge")
        out_sources.append(srcs)
    module = NIRGraphModule(modules, inputs, outputs, order, edges=edges)
    module._set_output_sources(out_sources)
    return module


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
        source = read_nir(source, max_bytes=max_bytes, max_depth=max_depth)
    if not isinstance(source, nir.NIRGraph):
        if not isinstance(source, nir.NIRNode):
            raise TypeError(f"from_nir expects a nir.NIRGraph, a nir.NIRNode or a path, got {type(source).__name__}")
        source = _single_node_graph(source)
    conv = resolve_convention(convention, dt)
    template = ImportContext(
        name="", convention=conv, batch_size=batch_size, num_timesteps=num_timesteps, max_depth=max_depth
    )
    try:
        return load_graph(source, template)
    except ConversionError as exc:
        if where is None:
            raise
        raise ConversionError(f"{where}: {exc}") from exc


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
