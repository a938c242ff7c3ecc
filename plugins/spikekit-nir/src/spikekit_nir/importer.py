"""``from_nir``: a ``nir.NIRGraph`` (or a ``.nir`` file) to a torch module that runs the graph.

Every node becomes a named submodule through the registered import converters (dotted node names become nested
modules, so ``state_dict`` keys match the exporting model's); :class:`NIRGraphModule` runs them in topological
order, summing the inputs of a node that has several incoming edges (NIR's semantics).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nir
import torch
from torch import nn

from spikekit_nir.conventions import Convention, ConversionError, resolve_convention
from spikekit_nir.registry import ImportContext, find_importer

__all__ = ["from_nir", "NIRGraphModule"]


class NIRGraphModule(nn.Module):
    """Runs a NIR graph: its nodes are submodules, called in topological order.

    ``forward(*inputs)`` takes one tensor per ``Input`` node (in the graph's order) and returns the tensor of the
    single ``Output`` node (a tuple when there are several). Data are in spikekit's squeezed layout
    ``(B*T, ...)``, like the Squeeze neuron layers it contains.

    Attributes:
        input_names, output_names: the graph's Input / Output node names.
        order: ``(node name, names of its sources)`` in execution order.
    """

    def __init__(self, modules: dict[str, nn.Module], input_names: list[str], output_names: list[str],
                 order: list[tuple[str, list[str]]]) -> None:  # fmt: skip
        super().__init__()
        self.input_names = list(input_names)
        self.output_names = list(output_names)
        self.order = [(name, list(srcs)) for name, srcs in order]
        self._paths: dict[str, str] = {}
        for name, module in modules.items():
            self._paths[name] = _attach(self, name, module)
        self._calls = [(name, self.get_submodule(self._paths[name]), srcs) for name, srcs in self.order]

    def forward(self, *inputs: torch.Tensor) -> Any:
        if len(inputs) != len(self.input_names):
            raise TypeError(
                f"NIRGraphModule expects {len(self.input_names)} input(s) ({', '.join(self.input_names)}), "
                f"got {len(inputs)}"
            )
        values: dict[str, torch.Tensor] = dict(zip(self.input_names, inputs))
        for name, module, srcs in self._calls:
            values[name] = module(_sum([values[s] for s in srcs]))  # NIR sums every edge into a node
        outs = tuple(_sum([values[s] for s in srcs]) for srcs in self._output_sources)
        return outs[0] if len(outs) == 1 else outs

    def _set_output_sources(self, sources: list[list[str]]) -> None:
        self._output_sources = sources


def _sum(xs: list[torch.Tensor]) -> torch.Tensor:
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def _attach(root: nn.Module, name: str, module: nn.Module) -> str:
    """Register ``module`` under the dotted ``name`` (creating plain containers), or a sanitised flat name."""
    parts = name.split(".")
    if all(p.isidentifier() or p.isdigit() for p in parts):
        parent = root
        ok = True
        for p in parts[:-1]:
            child = parent._modules.get(p)
            if child is None:
                child = nn.Module()
                parent.add_module(p, child)
            elif type(child) is not nn.Module:  # a node module already sits there
                ok = False
                break
            parent = child
        if ok and parts[-1] not in parent._modules:
            parent.add_module(parts[-1], module)
            return name
    flat = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    while flat in root._modules:
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


def load_graph(graph: nir.NIRGraph, ctx_template: ImportContext) -> NIRGraphModule:
    """Build the :class:`NIRGraphModule` of ``graph`` with the convention and sizes of ``ctx_template``."""
    names = list(graph.nodes)
    edges = [(str(a), str(b)) for a, b in graph.edges]
    for a, b in edges:
        for end in (a, b):
            if end not in graph.nodes:
                raise ConversionError(f"from_nir: edge ({a!r}, {b!r}) names the unknown node {end!r}")
    inputs = [n for n in names if isinstance(graph.nodes[n], nir.Input)]
    outputs = [n for n in names if isinstance(graph.nodes[n], nir.Output)]
    if not inputs or not outputs:
        raise ConversionError("from_nir: the graph needs at least one Input and one Output node")
    modules: dict[str, nn.Module] = {}
    order: list[tuple[str, list[str]]] = []
    for name in _topological(names, edges):
        node = graph.nodes[name]
        if isinstance(node, (nir.Input, nir.Output)):
            continue
        srcs = [a for a, b in edges if b == name]
        if not srcs:
            raise ConversionError(f"from_nir: node {name!r} ({type(node).__name__}) has no incoming edge")
        ctx = ImportContext(
            name=name,
            convention=ctx_template.convention,
            batch_size=ctx_template.batch_size,
            num_timesteps=ctx_template.num_timesteps,
            load_graph=ctx_template.load_graph,
        )
        modules[name] = import_node(node, ctx)
        order.append((name, srcs))
    out_sources = []
    for out in outputs:
        srcs = [a for a, b in edges if b == out]
        if not srcs:
            raise ConversionError(f"from_nir: output node {out!r} has no incoming edge")
        out_sources.append(srcs)
    module = NIRGraphModule(modules, inputs, outputs, order)
    module._set_output_sources(out_sources)
    return module


def import_node(node: Any, ctx: ImportContext) -> nn.Module:
    """The module of one NIR node, from the registered import converters; a clear error when there is none."""
    fn = find_importer(node)
    if fn is None:
        raise ConversionError(
            f"from_nir: NIR node {ctx.name!r} of type {type(node).__name__} has no spikekit counterpart (no import "
            "converter registered for it through the spikekit_converters hook)"
        )
    module = fn(node, ctx)
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
) -> NIRGraphModule:
    """Build a spikekit model from a NIR graph, a single NIR node, or the path of a ``.nir`` file.

    Args:
        source: ``nir.NIRGraph``, a single ``nir.NIRNode`` (wrapped in a graph), or a path to read.
        batch_size: batch size of the data (the neuron layers are Squeeze layers taking ``(B*T, ...)``).
        num_timesteps: number of time steps per sample; one of the two is needed when the graph has neurons.
        convention: how NIR's continuous-time parameters become per-step ones: ``"sinabs"`` (default),
            ``"snntorch"``, ``"norse"`` or a :class:`~spikekit_nir.conventions.Convention`.
        dt: time step, overriding the convention's.

    Returns:
        A :class:`NIRGraphModule`; calling it on ``(B*T, ...)`` data returns the output tensor.

    Example:
        >>> import numpy as np
        >>> g = nir.NIRGraph.from_list(nir.Affine(np.eye(2), np.zeros(2)))
        >>> from_nir(g)(torch.ones(3, 2)).shape
        torch.Size([3, 2])
    """
    if isinstance(source, (str, Path)):
        source = nir.read(source, type_check=False)
    if not isinstance(source, nir.NIRGraph):
        if not isinstance(source, nir.NIRNode):
            raise TypeError(f"from_nir expects a nir.NIRGraph, a nir.NIRNode or a path, got {type(source).__name__}")
        source = nir.NIRGraph(
            nodes={"input": nir.Input(input_type=source.input_type), "model": source,
                   "output": nir.Output(output_type=source.output_type)},
            edges=[("input", "model"), ("model", "output")],
            type_check=False,
        )  # fmt: skip
    conv = resolve_convention(convention, dt)
    template = ImportContext(name="", convention=conv, batch_size=batch_size, num_timesteps=num_timesteps)

    def load_sub(sub: nir.NIRGraph, name: str) -> nn.Module:
        return load_graph(sub, template)

    template.load_graph = load_sub
    return load_graph(source, template)
