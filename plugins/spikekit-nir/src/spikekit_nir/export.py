"""``to_nir``: a torch / spikekit model to a ``nir.NIRGraph``, through the registered export converters.

The model's graph is found with ``torch.fx``: every module that has a converter (and every spikekit stateful
layer) is a leaf; ``x + y`` between module outputs and ``Merge`` modules become sums, i.e. several NIR edges into
one node. Node names are the modules' qualified names (``"0"``, ``"block.conv"``); the graph's inputs and outputs
are ``"input"`` and ``"output"``. The sample data runs through the model once (initialising neuron states, as in
sinabs) to find every node's shape.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import nir
import numpy as np
import torch
import torch.fx as fx
from torch import nn

from spikekit_nir.conventions import Convention, ConversionError, resolve_convention
from spikekit_nir.graph_module import NIRGraphModule
from spikekit_nir.recurrent import inline_recurrent
from spikekit_nir.registry import PASSTHROUGH, ExportContext, export_converters, find_exporter, stamp

__all__ = ["to_nir"]

_SUMS = {operator.add, torch.add, operator.iadd}


def to_nir(
    model: nn.Module,
    sample_data: torch.Tensor,
    model_name: str = "model",
    *,
    convention: str | Convention | None = None,
    dt: float | None = None,
    ignore_dims: Sequence[int] | None = None,
    path: str | Path | None = None,
) -> nir.NIRGraph:
    """Export ``model`` to a NIR graph (and optionally write it to a ``.nir`` file).

    Args:
        model: a module whose leaves have NIR converters (spikekit neuron layers, ``nn.Linear``, ``nn.Conv1d/2d``,
            ``SumPool2d``, ``nn.AvgPool2d``, ``nn.Flatten``, ``Merge``, ...); containers and ``x + y`` are traced.
        sample_data: an input the model accepts, e.g. ``(B*T, C, H, W)`` for Squeeze layers; it is run once.
        model_name: the node name when ``model`` is itself a single convertible layer (sinabs: ``"model"``).
        convention: how neuron parameters become NIR's continuous-time ones: ``"sinabs"`` (default),
            ``"snntorch"``, ``"norse"`` or a :class:`~spikekit_nir.conventions.Convention`.
        dt: time step, overriding the convention's.
        ignore_dims: leading dims of the data that NIR shapes leave out: ``(0,)`` for ``(B*T, ...)`` data,
            ``(0, 1)`` for ``(B, T, ...)``. Default: inferred from the model's neuron layers: ``(0, 1)`` when they
            are plain layers (``IAF``, ``LIF``, ... take ``(B, T, ...)``), ``(0,)`` when they are Squeeze layers or
            there are none; a model mixing both must pass it.
        path: if given, also write the graph there (HDF5, ``nir.write``).

    Every graph returned passes the nir package's type check (``nir.NIRGraph(..., type_check=True)``), so that
    ``nir.write`` / ``nir.read`` accept it; a graph whose shapes do not line up is refused with a
    :class:`ConversionError` that says which ``ignore_dims`` or sample shape to pass.

    Returns:
        A ``nir.NIRGraph`` with nodes named after the modules, plus ``"input"`` and ``"output"``.

    Example:
        >>> graph = to_nir(nn.Sequential(nn.Linear(3, 2)), torch.rand(4, 3))
        >>> sorted(graph.nodes)
        ['0', 'input', 'output']
    """
    resolved = resolve_convention(convention, dt)
    table = export_converters()
    if not isinstance(model, nn.Module):
        raise TypeError(f"to_nir expects a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(sample_data, torch.Tensor):
        raise TypeError(f"to_nir expects sample_data to be a torch.Tensor, got {type(sample_data).__name__}")
    if isinstance(model, NIRGraphModule):  # what from_nir returns: its own graph, no tracing
        return _finish(_reexport(model, sample_data, resolved, table, ignore_dims), ignore_dims or (0,), path)
    if ignore_dims is None:
        ignore_dims = _infer_ignore_dims(model, sample_data)
    ignore = tuple(sorted(ignore_dims))
    if ignore != tuple(range(len(ignore))):
        raise ValueError(f"to_nir: ignore_dims must be leading dims like (0,) or (0, 1), got {tuple(ignore_dims)}")
    n_ignored = len(ignore)

    def strip(shape: Sequence[int] | None) -> tuple[int, ...] | None:
        return None if shape is None else tuple(int(s) for s in shape[n_ignored:])

    if find_exporter(model, table) is not None or _is_stateful(model):
        result_graph = _single_module_graph(model, sample_data, model_name, resolved, table, strip, n_ignored)
    else:
        result_graph = _traced_graph(model, sample_data, resolved, table, strip, n_ignored)
    return _finish(result_graph, ignore, path)


def _finish(graph: nir.NIRGraph, ignore: Sequence[int], path: str | Path | None) -> nir.NIRGraph:
    _check_types(graph, tuple(ignore))
    if path is not None:
        nir.write(path, graph)
    return graph


def _reexport(
    model: NIRGraphModule, sample: torch.Tensor, convention: Convention, table: dict[Any, Callable[..., Any]],
    ignore_dims: Sequence[int] | None,
) -> nir.NIRGraph:  # fmt: skip
    from spikekit_nir.reexport import graph_module_to_nir

    with torch.no_grad():
        graph, _ = graph_module_to_nir(model, sample, convention, table, len(ignore_dims) if ignore_dims else 1)
    return graph


def _infer_ignore_dims(model: nn.Module, sample: torch.Tensor) -> tuple[int, ...]:
    """``(0, 1)`` for models of plain neuron layers (``(B, T, ...)`` data), ``(0,)`` otherwise.

    A ``(batch, features)`` sample for plain layers is taken as sinabs takes it: dim 0 ignored, the neurons counted
    from the layer that feeds them.
    """
    from spikekit.state import SqueezeMixin, StatefulLayer

    kinds = {isinstance(m, SqueezeMixin) for m in model.modules() if isinstance(m, StatefulLayer)}
    if kinds == {True, False}:
        raise ConversionError(
            "to_nir: the model mixes Squeeze layers ((B*T, ...) data) and plain neuron layers ((B, T, ...) data); "
            "pass ignore_dims=(0,) or (0, 1) to say which leading dims of the sample are batch and time"
        )
    return (0, 1) if kinds == {False} and sample.dim() > 2 else (0,)


def _check_types(graph: nir.NIRGraph, ignore: tuple[int, ...]) -> None:
    """Refuse a graph that the nir package's own type check (``nir.write`` / ``nir.read``) would reject."""
    for name, node in graph.nodes.items():
        for field, value in vars(node).items():
            if isinstance(value, np.ndarray) and value.ndim == 0 and field not in ("metadata",):
                raise ConversionError(
                    f"to_nir: node {name!r} ({type(node).__name__}) gets a 0-d {field!r}; nir.write cannot store it. "
                    "Its layer saw no neuron dims in the sample: plain neuron layers take (B, T, *neurons) data, so "
                    "pass a sample such as x.unsqueeze(1) for one time step, with ignore_dims=(0, 1)"
                )
    nodes = copy.deepcopy(graph.nodes)  # nir's type inference edits the nodes it checks
    for node in nodes.values():
        if isinstance(node, (nir.Conv1d, nir.Conv2d)) and int(node.groups) > 1:
            # nir takes a convolution's input channels to be weight.shape[1], forgetting the groups: let it infer
            # this node's types from its neighbours instead (the file itself keeps input_shape; see docs/nir)
            node.input_shape = None
            node.input_type = {"input": None}
            node.output_type = {"output": None}
    try:
        nir.NIRGraph(nodes=nodes, edges=list(graph.edges), type_check=True)
    except Exception as exc:
        raise ConversionError(
            f"to_nir: the exported graph fails nir's type check ({exc}); with ignore_dims={ignore}, the NIR shapes "
            "are the sample's shapes without those dims: pass ignore_dims=(0,) for (B*T, ...) data or (0, 1) for "
            "(B, T, ...) data"
        ) from exc


def _traced_graph(
    model: nn.Module,
    sample_data: torch.Tensor,
    convention: Convention,
    table: dict[Any, Callable[..., Any]],
    strip: Callable[[Any], tuple[int, ...] | None],
    n_ignored: int,
) -> nir.NIRGraph:
    """The graph of a container model, traced with ``torch.fx`` (every convertible module is a leaf)."""
    tracer = _LeafTracer(table)
    try:
        fx_graph = tracer.trace(model)
    except Exception as exc:
        raise ConversionError(f"to_nir could not trace {type(model).__name__}: {type(exc).__name__}: {exc}") from exc
    graph_module = fx.GraphModule(tracer.root, fx_graph)
    shapes = _ShapeRecorder(graph_module).run_with(sample_data)
    builder = _GraphBuilder(graph_module, shapes, convention, table, strip, n_ignored)
    for fx_node in fx_graph.nodes:
        builder.add(fx_node)
    return builder.graph()


class _GraphBuilder:
    """Collects the NIR nodes and edges of a traced model, one ``torch.fx`` node at a time (in graph order)."""

    def __init__(
        self,
        graph_module: fx.GraphModule,
        shapes: dict[fx.Node, tuple[int, ...]],
        convention: Convention,
        table: dict[Any, Callable[..., Any]],
        strip: Callable[[Any], tuple[int, ...] | None],
        n_ignored: int,
    ) -> None:
        self.graph_module = graph_module
        self.shapes = shapes
        self.convention = convention
        self.table = table
        self.strip = strip
        self.n_ignored = n_ignored
        self.nodes: dict[str, Any] = {}  # None for a routing node, removed at the end
        self.edges: list[tuple[str, str]] = []
        self.nir_name: dict[fx.Node, str] = {}
        self.passthrough: set[str] = set()
        self.placeholder_count = sum(1 for n in graph_module.graph.nodes if n.op == "placeholder")

    def add(self, fx_node: fx.Node) -> None:
        """Add the NIR node of ``fx_node`` and the edges from its arguments' nodes."""
        if fx_node.op == "placeholder":
            name = self._add_input(fx_node)
        elif fx_node.op == "call_module":
            name = self._add_module(fx_node)
        elif fx_node.op == "call_function" and fx_node.target in _SUMS:
            name = self._add_sum(fx_node)
        elif fx_node.op == "output":
            name = self._add_output(fx_node)
        else:
            raise ConversionError(
                f"to_nir: operation {fx_node.name!r} ({fx_node.op} {_describe(fx_node.target)}) has no NIR counterpart; "
                "wrap it in a module with a registered converter"
            )
        self.nir_name[fx_node] = name
        for arg in _node_args(fx_node):
            self.edges.append((self.nir_name[arg], name))

    def graph(self) -> nir.NIRGraph:
        """The NIR graph, routing nodes replaced by direct edges."""
        edges = _remove_passthrough(self.nodes, self.edges, self.passthrough)
        nodes = {k: v for k, v in self.nodes.items() if v is not None}
        edges = inline_recurrent(nodes, edges)
        return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)

    def _shape(self, fx_node: fx.Node) -> tuple[int, ...] | None:
        return self.strip(self.shapes.get(fx_node))

    def _add_input(self, fx_node: fx.Node) -> str:
        name = "input" if self.placeholder_count == 1 else f"input_{fx_node.name}"
        self.nodes[name] = nir.Input(input_type={"input": _shape_array(self._shape(fx_node))})
        return name

    def _add_module(self, fx_node: fx.Node) -> str:
        name = str(fx_node.target)
        if name in self.nodes:
            raise ConversionError(f"to_nir: module {name!r} is called more than once; NIR nodes are used once")
        module = self.graph_module.get_submodule(name)
        converter = find_exporter(module, self.table)
        if converter is None:
            raise ConversionError(
                f"to_nir: module {name!r} of type {type(module).__name__} has no NIR converter; register one "
                "through the spikekit_converters hook (format='nir', direction='export')"
            )
        inputs = _node_args(fx_node)
        context = ExportContext(
            name=name,
            convention=self.convention,
            input_shape=self._shape(inputs[0]) if inputs else None,
            output_shape=self._shape(fx_node),
            n_ignored_dims=self.n_ignored,
        )
        result = converter(module, context)
        stamp(result, module)
        if result is PASSTHROUGH:
            self.passthrough.add(name)
            self.nodes[name] = None
        elif isinstance(result, nir.NIRNode):
            self.nodes[name] = result
        else:
            raise ConversionError(
                f"to_nir: the converter for {name!r} ({type(module).__name__}) returned "
                f"{type(result).__name__}, expected a nir.NIRNode or PASSTHROUGH"
            )
        return name

    def _add_sum(self, fx_node: fx.Node) -> str:
        name = fx_node.name
        self.passthrough.add(name)
        self.nodes[name] = None
        if len(_node_args(fx_node)) != 2:
            raise ConversionError(f"to_nir: '{fx_node.name}' adds a constant; only sums of signals are exported")
        return name

    def _add_output(self, fx_node: fx.Node) -> str:
        outputs = _node_args(fx_node)
        if len(outputs) != 1:
            raise ConversionError(f"to_nir: the model must return one tensor, it returns {len(outputs)}")
        self.nodes["output"] = nir.Output(output_type={"output": _shape_array(self._shape(outputs[0]))})
        return "output"


# ------------------------------------------------------------------------------------------------------ helpers
def _is_stateful(module: nn.Module) -> bool:
    from spikekit.state import StatefulLayer

    return isinstance(module, StatefulLayer)


class _LeafTracer(fx.Tracer):
    def __init__(self, table: dict[Any, Callable[..., Any]]) -> None:
        super().__init__()
        self.table = table

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if find_exporter(m, self.table) is not None or _is_stateful(m):
            return True
        return super().is_leaf_module(m, module_qualified_name)


class _ShapeRecorder(fx.Interpreter):
    def run_with(self, *args: Any) -> dict[fx.Node, tuple[int, ...]]:
        self.shapes: dict[fx.Node, tuple[int, ...]] = {}
        with torch.no_grad():
            self.run(*args)
        return self.shapes

    def run_node(self, n: fx.Node) -> Any:
        out = super().run_node(n)
        if isinstance(out, torch.Tensor):
            self.shapes[n] = tuple(out.shape)
        return out


def _node_args(fx_node: fx.Node) -> list[fx.Node]:
    """The fx nodes among ``fx_node``'s arguments, in order."""
    found: list[fx.Node] = []

    def collect(arg: fx.Node) -> fx.Node:
        found.append(arg)
        return arg

    fx.node.map_arg((fx_node.args, fx_node.kwargs), collect)
    return found


def _describe(target: Any) -> str:
    return getattr(target, "__name__", None) or str(target)


def _shape_array(shape: tuple[int, ...] | None) -> Any:
    import numpy as np

    return None if shape is None else np.array(shape, dtype=np.int64)


def _remove_passthrough(
    nodes: dict[str, Any], edges: list[tuple[str, str]], passthrough: set[str]
) -> list[tuple[str, str]]:
    """Replace every routing node by edges from each of its sources to each of its consumers (in order)."""
    for name in [n for n in nodes if n in passthrough]:
        sources = [a for a, b in edges if b == name]
        new_edges: list[tuple[str, str]] = []
        for a, b in edges:
            if b == name:
                continue
            if a == name:
                new_edges.extend((src, b) for src in sources)
            else:
                new_edges.append((a, b))
        edges = new_edges
    return edges


def _single_module_graph(
    model: nn.Module,
    sample_data: torch.Tensor,
    model_name: str,
    convention: Convention,
    table: dict[Any, Callable[..., Any]],
    strip: Callable[[Any], tuple[int, ...] | None],
    n_ignored: int,
) -> nir.NIRGraph:
    with torch.no_grad():
        out = model(sample_data)
    converter = find_exporter(model, table)
    if converter is None:
        raise ConversionError(f"to_nir: {type(model).__name__} has no NIR converter")
    context = ExportContext(model_name, convention, strip(sample_data.shape), strip(out.shape), n_ignored)
    node = converter(model, context)
    stamp(node, model)
    nodes = {
        "input": nir.Input(input_type={"input": _shape_array(strip(sample_data.shape))}),
        "output": nir.Output(output_type={"output": _shape_array(strip(out.shape))}),
    }
    if node is PASSTHROUGH:
        edges = [("input", "output")]
    else:
        nodes[model_name] = node
        edges = inline_recurrent(nodes, [("input", model_name), (model_name, "output")])
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
