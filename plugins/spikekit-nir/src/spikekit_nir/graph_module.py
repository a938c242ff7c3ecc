"""``NIRGraphModule``: the torch module that :func:`~spikekit_nir.importer.from_nir` returns.

It runs a NIR graph's nodes (submodules) in topological order and offers what code written for sinabs's result
(nirtorch's ``GraphExecutor``) reads: ``execution_order``, ``graph`` with nirtorch's look-ups, ``get_input_nodes()``,
nodes as attributes under nirtorch's names, ``return_state``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, cast

import torch
from torch import nn

__all__ = ["GraphNode", "NIRGraphModule", "NIRGraphState", "sanitize_name"]


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


@dataclasses.dataclass(eq=False)
class _GraphView:
    """The parts of nirtorch's ``TorchGraph`` that code reads from ``executor.graph`` (a dataclass, so that safe
    loading of a pickled model rebuilds it)."""

    node_list: list[GraphNode]
    inputs: list[GraphNode]

    @property
    def module_names(self) -> dict[nn.Module, str]:
        return {node.elem: node.name for node in self.node_list}

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
        edges: the graph's edges ``(source, target)`` (recurrent ones included), as ``to_nir`` writes them back.
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
        self.edges = list(edges) if edges is not None else [(s, n) for n, srcs in self.order for s in srcs]
        self._build_nodes(self.edges)

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
    cast(_NodeTyped, module).node_type = kind  # what nirtorch sets on the Identity of an Input / Output node
    return module


class _NodeTyped(Protocol):
    node_type: str


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
