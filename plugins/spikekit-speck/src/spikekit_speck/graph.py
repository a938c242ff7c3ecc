"""From a torch model to a plan of chip layers: trace the model, check every rule, group layers.

A *chip layer* is one core's worth of computation: ``Conv2d`` (or ``Linear``, turned into a ``Conv2d`` whose kernel
covers its whole input) -> ``IAFSqueeze`` -> up to two destinations, each through optional square sum pooling
(``SumPool2d``, or ``AvgPool2d`` turned into sum pooling with the next layer's weights scaled by ``1/k**2``).
``Flatten``, ``Identity`` and ``Dropout`` only shape the data and disappear; ``Merge`` joins two inputs (the chip adds
events arriving at one core). An optional :class:`~spikekit_speck.dvs.DVSLayer` first takes the sensor's events.

The graph is found by running the model once (on a deep copy, on zeros) with forward hooks that record which
module's output tensor each module consumes; so a ``forward`` must connect modules only through module calls.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from spikekit_speck.chip import ChipSpec
from spikekit_speck.dvs import DVSLayer
from spikekit_speck.errors import LayerShapeError, SpeckModelError, UnsupportedLayerError
from spikekit_speck.layers import linear_to_conv, merge_bn
from spikekit_speck.recognise import is_instance_of, reset_mode_of, spike_mode_of

__all__ = [
    "INPUT",
    "Destination",
    "LayerPlan",
    "NetworkPlan",
    "TracedNode",
    "check_core_geometry",
    "leaves",
    "plan_network",
    "rescale_method_1",
    "rescale_method_2",
    "trace",
]

INPUT = -1  # node index of the model input


def rescale_method_1(scaling_factors: Iterable[float], lambda_: float = 0.5) -> float:
    """Combine conflicting AvgPool rescale factors: ``round(mean(factors) * lambda_, 2)`` (sinabs's default)."""
    import numpy as np

    factors = list(scaling_factors)
    return float(np.round(np.mean(factors) * lambda_, 2)) if factors else 1.0


def rescale_method_2(scaling_factors: Iterable[float], lambda_: float = 0.5) -> float:
    """Combine conflicting AvgPool rescale factors: ``round(harmonic_mean(factors) * lambda_, 2)``."""
    import statistics

    import numpy as np

    factors = list(scaling_factors)
    return float(np.round(statistics.harmonic_mean(factors) * lambda_, 2)) if factors else 1.0


@dataclasses.dataclass
class Destination:
    """Where a layer's spikes go: chip layer ``target`` (None: the network's output) through sum pooling."""

    target: int | None
    pooling: int


@dataclasses.dataclass
class LayerPlan:
    """One chip layer before discretisation (float parameters).

    Attributes:
        index: position in topological order.
        name: the weight layer's module name; ``neuron_name`` the IAFSqueeze's.
        weight, bias: ``(C_out, C_in, k, k)`` and ``(C_out,)`` float (AvgPool rescaling applied).
        input_shape: ``(C, H, W)`` arriving at the core; ``neuron_shape`` its conv output.
        stride, padding: ``(y, x)``.
        threshold, min_v_mem: the neuron's (``min_v_mem`` None: no lower bound, i.e. ``-2**15`` on chip).
        return_to_zero: MembraneReset (else MembraneSubtract); ``spike_mode`` "multi", "single" or "max".
        destinations: up to two other layers, plus network outputs.
        sources: ``INPUT`` (-1), ``"dvs"`` or layer indices.
        rescale_factor: the AvgPool factor applied to ``weight``; ``unscaled_weight`` the weight before it.
    """

    index: int
    name: str
    neuron_name: str
    weight: torch.Tensor
    bias: torch.Tensor | None
    input_shape: tuple[int, int, int]
    neuron_shape: tuple[int, int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    threshold: float
    min_v_mem: float | None
    return_to_zero: bool
    spike_mode: str
    max_spikes: int | None
    destinations: list[Destination] = dataclasses.field(default_factory=list)
    sources: list[Any] = dataclasses.field(default_factory=list)
    rescale_factor: float = 1.0
    unscaled_weight: torch.Tensor | None = None

    @property
    def kernel_size(self) -> int:
        return int(self.weight.shape[-1])

    def memory(self) -> dict[str, int]:
        """Kernel, neuron and bias memory this layer needs on a core (words / entries)."""
        from spikekit_speck.mapping import layer_memory

        return layer_memory(self)


@dataclasses.dataclass
class NetworkPlan:
    """The whole mapped-to-be network: input, optional DVS layer, chip layers in topological order."""

    input_shape: tuple[int, int, int]
    layers: list[LayerPlan]
    dvs: DVSLayer | None = None
    dvs_destinations: list[int] = dataclasses.field(default_factory=list)
    entry_layers: list[int] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class TracedNode:
    name: str
    module: nn.Module
    kind: str
    sources: list[int]
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]


_SKIP = (nn.Identity, nn.Dropout, nn.Dropout2d, nn.Dropout1d, nn.AlphaDropout)
_ANALOG = (nn.ReLU, nn.ReLU6, nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.GELU, nn.ELU, nn.Softmax)


def _kind(module: nn.Module) -> str | None:
    """The role of a module, or None for a container to look into."""
    if isinstance(module, DVSLayer):
        return "dvs"
    if isinstance(module, nn.Conv2d):
        return "conv"
    if isinstance(module, nn.Linear):
        return "linear"
    if is_instance_of(module, "spikekit.layers", "IAFSqueeze"):
        return "neuron"
    if is_instance_of(module, "spikekit.layers", "SumPool2d") or isinstance(module, nn.AvgPool2d):
        return "pool"
    if isinstance(module, nn.LPPool2d) and float(module.norm_type) == 1.0:
        return "pool"
    if is_instance_of(module, "spikekit.layers", "Merge"):
        return "merge"
    if isinstance(module, nn.Flatten):
        return "flatten"
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return "bn"
    if isinstance(module, _SKIP):
        return "skip"
    if isinstance(module, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
        return None
    return "unsupported" if not list(module.children()) or _is_spiking(module) else None


def _is_spiking(module: nn.Module) -> bool:
    from spikekit.state import StatefulLayer

    return isinstance(module, StatefulLayer)


def _unsupported_message(name: str, module: nn.Module) -> str:
    kind = type(module).__name__
    if isinstance(module, _ANALOG) or is_instance_of(module, "spikekit.layers", "NeuromorphicReLU"):
        hint = "it is an analog activation: convert the model to a spiking one first (spikekit.from_model)"
    elif _is_spiking(module):
        hint = "only IAFSqueeze neurons run on the chip (non-leaky integrate-and-fire, input (batch*time, ...))"
    elif isinstance(module, nn.MaxPool2d):
        hint = "the chip pools by summing: use SumPool2d or AvgPool2d"
    else:
        hint = (
            "the chip runs Conv2d/Linear -> IAFSqueeze -> SumPool2d/AvgPool2d chains "
            "(plus Flatten, Merge, Identity, Dropout and an optional DVSLayer)"
        )
    return f"layer {name!r} ({kind}) cannot run on the chip: {hint}"


def leaves(model: nn.Module) -> list[tuple[str, nn.Module, str]]:
    """``(name, module, kind)`` of every module the trace records (containers are looked into)."""
    found: list[tuple[str, nn.Module, str]] = []

    def visit(prefix: str, module: nn.Module) -> None:
        kind = _kind(module)
        if kind is not None:
            found.append((prefix or type(module).__name__, module, kind))
            return
        for child_name, child in module.named_children():
            visit(f"{prefix}.{child_name}" if prefix else child_name, child)

    visit("", model)
    return found


class _Recorder:
    """The forward hook of a trace: records each leaf call as a :class:`TracedNode` and which tensor each node produced."""

    def __init__(self, names: dict[int, tuple[str, str]]) -> None:
        self.names = names  # id(module) -> (name, kind)
        self.nodes: list[TracedNode] = []
        self.producers: dict[int, tuple[int, torch.Tensor]] = {}
        self.seen: set[int] = set()

    def producer_of(self, tensor: torch.Tensor) -> int | None:
        """The node that produced ``tensor`` (``INPUT`` for the model input), None for any other tensor."""
        producer = self.producers.get(id(tensor))
        return None if producer is None or producer[1] is not tensor else producer[0]

    def __call__(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        name, kind = self.names[id(module)]
        if id(module) in self.seen:
            raise SpeckModelError(
                f"layer {name!r} ({type(module).__name__}) is called more than once in forward; "
                "a chip core runs each layer once (no weight sharing or recurrence)"
            )
        self.seen.add(id(module))
        sources = []
        for arg in args:
            if not isinstance(arg, torch.Tensor):
                continue
            producer = self.producer_of(arg)
            if producer is None:
                raise SpeckModelError(
                    f"the input of layer {name!r} ({type(module).__name__}) is not the output of another layer: "
                    "functional operations in forward (x.view, torch.flatten, x + y, ...) cannot be mapped; "
                    "use modules (nn.Flatten, spikekit.layers.Merge)"
                )
            sources.append(producer)
        if not isinstance(output, torch.Tensor):
            raise SpeckModelError(f"layer {name!r} ({type(module).__name__}) must return one tensor")
        first = next(a for a in args if isinstance(a, torch.Tensor))
        self.nodes.append(TracedNode(name, module, kind, sources, tuple(first.shape[1:]), tuple(output.shape[1:])))
        self.producers[id(output)] = (len(self.nodes) - 1, output)

    def output_nodes(self, out: Any) -> list[int]:
        """The nodes whose tensors the model returned."""
        found = []
        for o in out if isinstance(out, (tuple, list)) else [out]:
            producer = self.producer_of(o) if isinstance(o, torch.Tensor) else None
            if producer is None:
                raise SpeckModelError("the model's output is not the output of one of its layers")
            found.append(producer)
        return found


def _run_hooked(model: nn.Module, input_shape: tuple[int, ...], recorder: _Recorder) -> Any:
    """Run ``model`` once on zeros with ``recorder`` hooked on every leaf; its output."""
    from spikekit.utils import get_smallest_compatible_time_dimension

    handles = [m.register_forward_hook(recorder) for _, m, _ in leaves(model)]
    n = max(1, get_smallest_compatible_time_dimension(model))
    x = torch.zeros(n, *input_shape)
    recorder.producers[id(x)] = (INPUT, x)
    try:
        with torch.no_grad():
            return model(x)
    except SpeckModelError:
        raise
    except Exception as exc:
        raise SpeckModelError(
            f"running the model on an input of shape {tuple(x.shape)} (input_shape {tuple(input_shape)}) failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    finally:
        for h in handles:
            h.remove()


def trace(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[list[TracedNode], list[int]]:
    """Run ``model`` once with hooks; return the nodes in call order and the nodes producing the output."""
    found = leaves(model)
    for name, module, kind in found:
        if kind == "unsupported":
            raise UnsupportedLayerError(_unsupported_message(name, module))
    copied = copy.deepcopy(model)
    recorder = _Recorder({id(m): (n, k) for n, m, k in leaves(copied)})
    out = _run_hooked(copied, input_shape, recorder)
    out_nodes = recorder.output_nodes(out)
    # Map traced copies back to the user's modules (same names), so plans refer to the original parameters.
    originals = {n: m for n, m, _ in found}
    for node in recorder.nodes:
        node.module = originals[node.name]
    return recorder.nodes, out_nodes


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    a, b = value
    return (int(a), int(b))


def _pool_size(name: str, module: nn.Module) -> tuple[int, float]:
    """(square pooling size, weight rescale factor) of a pooling layer, checking the chip's rules."""
    kernel = _pair(module.kernel_size)
    kind = type(module).__name__
    if kernel[0] != kernel[1]:
        raise LayerShapeError(
            f"pooling layer {name!r} ({kind}) has a non-square kernel {kernel}; the chip pools squares"
        )
    stride = getattr(module, "stride", None)
    if stride is not None and _pair(stride) != kernel:
        raise LayerShapeError(
            f"pooling layer {name!r} ({kind}) has stride {_pair(stride)} but kernel {kernel}; "
            "the chip needs stride == kernel_size"
        )
    if getattr(module, "ceil_mode", False):
        raise SpeckModelError(f"pooling layer {name!r} ({kind}) uses ceil_mode=True; the chip drops partial windows")
    if isinstance(module, nn.AvgPool2d):
        if _pair(module.padding) != (0, 0):
            raise SpeckModelError(f"pooling layer {name!r} (AvgPool2d) has padding {module.padding}; expected 0")
        return kernel[0], 1.0 / (kernel[0] * kernel[1])
    return kernel[0], 1.0


def _neuron_params(name: str, module: nn.Module) -> dict[str, Any]:
    kind = type(module).__name__
    threshold = torch.as_tensor(module.spike_threshold).detach()
    if threshold.numel() != 1:
        raise SpeckModelError(
            f"{kind} {name!r} has {threshold.numel()} thresholds; a chip core has one threshold for all its neurons"
        )
    low = getattr(module, "min_v_mem", None)
    if low is not None:
        low_t = torch.as_tensor(low).detach()
        if low_t.numel() != 1:
            raise SpeckModelError(f"{kind} {name!r} has a per-neuron min_v_mem; the chip has one per core")
        low = float(low_t)
    return_to_zero, value = reset_mode_of(module)
    if return_to_zero and value not in (None, 0.0):
        raise SpeckModelError(f"{kind} {name!r} uses MembraneReset(reset_value={value}); the chip resets to 0 only")
    if not return_to_zero and value is not None and value != float(threshold):
        raise SpeckModelError(
            f"{kind} {name!r} uses MembraneSubtract(subtract_value={value}) with threshold {float(threshold)}; "
            "the chip always subtracts the threshold"
        )
    try:
        mode, limit = spike_mode_of(module)
    except ValueError as exc:
        raise SpeckModelError(f"{kind} {name!r}: {exc}") from exc
    return {
        "threshold": float(threshold),
        "min_v_mem": low,
        "return_to_zero": return_to_zero,
        "spike_mode": mode,
        "max_spikes": limit,
    }


def plan_network(
    model: nn.Module,
    input_shape: Sequence[int],
    chip: ChipSpec,
    weight_rescaling_fn: Callable[[Iterable[float]], float] = rescale_method_1,
    traced: tuple[list[TracedNode], list[int]] | None = None,
) -> NetworkPlan:
    """Trace ``model`` and return its chip layers, raising :class:`SpeckModelError` naming the layer on any rule
    the chip cannot follow.

    Args:
        model: a spiking model (see the module docstring for what it may contain).
        input_shape: ``(C, H, W)`` of one time step (without batch/time).
        chip: the chip's constraints.
        weight_rescaling_fn: combines conflicting AvgPool rescale factors that reach one layer.
        traced: what :func:`trace` returned for ``model`` and ``input_shape``, so that the model is not run again
            (left unchanged).
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3:
        raise SpeckModelError(f"input_shape must be (channels, height, width), got {shape}")
    shape3 = (shape[0], shape[1], shape[2])
    nodes, out_nodes = trace(model, shape) if traced is None else traced
    nodes = [dataclasses.replace(node, sources=list(node.sources)) for node in nodes]  # _contract rewrites them
    folded = _fold_batchnorms(nodes)
    graph = _contract(nodes, out_nodes)
    layers = [_plan_layer(graph, k, chip) for k in range(len(graph.weight_nodes))]
    dvs, dvs_destinations, entry_layers = _plan_entries(graph, chip)
    arriving = _entry_arrivals(len(layers), shape3, entry_layers, dvs, dvs_destinations)
    for layer in layers:
        module = folded.get(graph.weight_nodes[layer.index], nodes[graph.weight_nodes[layer.index]].module)
        _shape_layer(layer, module, arriving, graph.rescale[layer.index], weight_rescaling_fn, chip)
    return NetworkPlan(shape3, layers, dvs, dvs_destinations, entry_layers)


_PASS_THROUGH = ("skip", "flatten", "bn")
# A destination found while following a layer's output: (chip layer or None for the output, pooling, rescale factor).
_Reach = tuple[int | None, int, float]


@dataclasses.dataclass
class _Graph:
    """The traced nodes with pass-through nodes contracted, and the indexes the planning steps share."""

    nodes: list[TracedNode]
    out_nodes: list[int]
    successors: dict[int, list[int]]  # node (or INPUT) -> the active nodes it feeds
    weight_nodes: list[int]  # chip layer -> its Conv2d / Linear node, in topological order
    layer_of: dict[int, int]  # the inverse of weight_nodes
    rescale: dict[int, set[float]]  # chip layer -> the AvgPool factors reaching it


# Contract pass-through nodes (Identity, Dropout, Flatten, folded BatchNorm) into their source.
def _real_source(nodes: list[TracedNode], i: int) -> int:
    while i != INPUT and nodes[i].kind in _PASS_THROUGH:
        if nodes[i].kind == "flatten":
            node = nodes[i]
            if len(node.out_shape) != 1:
                raise SpeckModelError(
                    f"Flatten {node.name!r} keeps shape {node.out_shape}; only flattening everything but the "
                    "batch dimension is supported"
                )
        (i,) = nodes[i].sources
    return i


def _contract(nodes: list[TracedNode], out_nodes: list[int]) -> _Graph:
    for node in nodes:
        node.sources = [_real_source(nodes, s) for s in node.sources]
    out_nodes = [_real_source(nodes, o) for o in out_nodes]
    active = [i for i, n in enumerate(nodes) if n.kind not in _PASS_THROUGH]
    successors: dict[int, list[int]] = {i: [] for i in [INPUT, *active]}
    for i in active:
        for s in nodes[i].sources:
            successors[s].append(i)
    weight_nodes = [i for i in active if nodes[i].kind in ("conv", "linear")]
    layer_of = {node_index: k for k, node_index in enumerate(weight_nodes)}
    rescale: dict[int, set[float]] = {k: set() for k in range(len(weight_nodes))}
    return _Graph(nodes, out_nodes, successors, weight_nodes, layer_of, rescale)


def _follow(graph: _Graph, start: int, pooling: int, scale: float, origin: str) -> list[_Reach]:
    """Destinations reached from node ``start``: (layer or None, cumulative pooling, rescale factor)."""
    node = graph.nodes[start]
    if node.kind in ("conv", "linear"):
        return [(graph.layer_of[start], pooling, scale)]
    if node.kind == "pool":
        size, factor = _pool_size(node.name, node.module)
        found: list[_Reach] = [(None, pooling * size, scale * factor)] if start in graph.out_nodes else []
        for nxt in graph.successors[start]:
            found += _follow(graph, nxt, pooling * size, scale * factor, origin)
        if not found:
            found = [(None, pooling * size, scale * factor)]
        return found
    if node.kind == "merge":
        found = [(None, pooling, scale)] if start in graph.out_nodes else []
        for nxt in graph.successors[start]:
            found += _follow(graph, nxt, pooling, scale, origin)
        return found
    if node.kind == "neuron":
        raise SpeckModelError(
            f"{type(node.module).__name__} {node.name!r} follows {origin} without a Conv2d or Linear in between; "
            "each spiking layer needs its own weight layer"
        )
    raise SpeckModelError(f"layer {node.name!r} ({type(node.module).__name__}) cannot follow {origin}")


# Chip layers: each weight layer, its IAFSqueeze and where the spikes go, in topological order.
def _neuron_after(graph: _Graph, wi: int) -> int:
    """The IAFSqueeze node that weight node ``wi`` feeds, checking it is the only one and takes only that input."""
    nodes, wnode, succ = graph.nodes, graph.nodes[wi], graph.successors[wi]
    if len(succ) != 1 or nodes[succ[0]].kind != "neuron":
        found = ", ".join(f"{nodes[s].name!r} ({type(nodes[s].module).__name__})" for s in succ) or "nothing"
        raise SpeckModelError(
            f"{type(wnode.module).__name__} {wnode.name!r} must be followed by exactly one IAFSqueeze layer, "
            f"found {found}"
        )
    if nodes[succ[0]].sources != [wi]:
        raise SpeckModelError(f"IAFSqueeze {nodes[succ[0]].name!r} must take input from {wnode.name!r} only")
    return succ[0]


def _destinations(graph: _Graph, k: int, ni: int, chip: ChipSpec) -> list[_Reach]:
    """Where chip layer ``k`` (its neuron node ``ni``) sends spikes, checked against the chip; records rescaling."""
    nodes, wnode, nnode = graph.nodes, graph.nodes[graph.weight_nodes[k]], graph.nodes[ni]
    dests: list[_Reach] = [(None, 1, 1.0)] if ni in graph.out_nodes else []
    for nxt in graph.successors[ni]:
        dests += _follow(graph, nxt, 1, 1.0, f"{type(nnode.module).__name__} {nnode.name!r}")
    if not dests:
        dests = [(None, 1, 1.0)]
    targets = [d[0] for d in dests if d[0] is not None]
    if len(targets) > chip.max_destinations:
        names = ", ".join(repr(nodes[graph.weight_nodes[t]].name) for t in targets)
        raise SpeckModelError(
            f"layer {wnode.name!r} (spiking layer {nnode.name!r}) sends its output to {len(targets)} layers "
            f"({names}); a core has at most {chip.max_destinations} destinations"
        )
    for target, pooling, factor in dests:
        if pooling not in chip.poolings:
            raise SpeckModelError(
                f"layer {wnode.name!r}: pooling of {pooling}x{pooling} towards "
                f"{'the output' if target is None else repr(nodes[graph.weight_nodes[target]].name)} is not "
                f"supported; the chip pools by {', '.join(map(str, chip.poolings))}"
            )
        if target is not None:
            if target <= k:
                raise SpeckModelError(f"layer {wnode.name!r} feeds back into an earlier layer")
            graph.rescale[target].add(factor)
    return dests


def _plan_layer(graph: _Graph, k: int, chip: ChipSpec) -> LayerPlan:
    """Chip layer ``k`` with its neuron and destinations; shapes and weights come later (:func:`_shape_layer`)."""
    wnode = graph.nodes[graph.weight_nodes[k]]
    ni = _neuron_after(graph, graph.weight_nodes[k])
    nnode = graph.nodes[ni]
    params = _neuron_params(nnode.name, nnode.module)
    dests = _destinations(graph, k, ni, chip)
    return LayerPlan(
        index=k,
        name=wnode.name,
        neuron_name=nnode.name,
        weight=torch.empty(0),
        bias=None,
        input_shape=(0, 0, 0),
        neuron_shape=(0, 0, 0),
        stride=(1, 1),
        padding=(0, 0),
        destinations=[Destination(t, p) for t, p, _ in dests],
        **params,
    )


# Entry points: the model input feeds a DVS layer or weight layers directly.
def _plan_dvs(graph: _Graph, first: int) -> tuple[DVSLayer, list[int]]:
    """The DVSLayer at node ``first`` (pooling layers right after it folded into it) and the chip layers it feeds."""
    nodes, node = graph.nodes, graph.nodes[first]
    assert isinstance(node.module, DVSLayer)  # the kind "dvs" is given to DVSLayer modules only
    dvs = copy.deepcopy(node.module)
    extra = 1
    chain = graph.successors[first]
    while len(chain) == 1 and nodes[chain[0]].kind == "pool":
        size, factor = _pool_size(nodes[chain[0]].name, nodes[chain[0]].module)
        if factor != 1.0:
            for t in graph.successors[chain[0]]:
                if t in graph.layer_of:
                    graph.rescale[graph.layer_of[t]].add(factor)
        cropped = dvs.crop != ((0, dvs.input_shape[1] // dvs.pool[0]), (0, dvs.input_shape[2] // dvs.pool[1]))
        if cropped or dvs.flip_x or dvs.flip_y or dvs.swap_xy:
            raise SpeckModelError(
                f"pooling layer {nodes[chain[0]].name!r} follows DVSLayer {node.name!r}, which crops or flips; "
                "put the pooling into DVSLayer(pool=...) instead"
            )
        extra *= size
        chain = graph.successors[chain[0]]
    if extra != 1:
        dvs = DVSLayer(
            dvs.input_shape[1:],
            pool=(dvs.pool[0] * extra, dvs.pool[1] * extra),
            merge_polarities=dvs.merge_polarities,
            disable_pixel_array=dvs.disable_pixel_array,
        )
    targets = []
    for t in chain:
        if t not in graph.layer_of:
            raise SpeckModelError(
                f"DVSLayer {node.name!r} must feed Conv2d/Linear layers, found {nodes[t].name!r} "
                f"({type(nodes[t].module).__name__})"
            )
        targets.append(graph.layer_of[t])
    return dvs, targets


def _plan_entries(graph: _Graph, chip: ChipSpec) -> tuple[DVSLayer | None, list[int], list[int]]:
    """(DVS layer, the chip layers it feeds, the chip layers fed by the model input directly)."""
    dvs: DVSLayer | None = None
    dvs_destinations: list[int] = []
    entry_layers: list[int] = []
    for first in graph.successors[INPUT]:
        node = graph.nodes[first]
        if node.kind == "dvs":
            dvs, targets = _plan_dvs(graph, first)
            dvs_destinations += targets
            if len(dvs_destinations) > chip.max_destinations:
                raise SpeckModelError(
                    f"DVSLayer {node.name!r} sends its output to {len(dvs_destinations)} layers; "
                    f"it has at most {chip.max_destinations} destinations"
                )
        elif node.kind in ("conv", "linear"):
            entry_layers.append(graph.layer_of[first])
        elif node.kind == "merge":
            raise SpeckModelError(f"Merge {node.name!r} cannot take the model input")
        else:
            raise SpeckModelError(
                f"the model input goes into {node.name!r} ({type(node.module).__name__}); it must go into a Conv2d, "
                "a Linear or a DVSLayer (put input pooling into DVSLayer(pool=...))"
            )
    return dvs, dvs_destinations, entry_layers


# Shapes and weights, in topological order.
_Arrivals = dict[int, list[tuple[Any, tuple[int, int, int]]]]  # chip layer -> (source, shape) of each input


def _entry_arrivals(
    n_layers: int,
    input_shape: tuple[int, int, int],
    entry_layers: list[int],
    dvs: DVSLayer | None,
    dvs_destinations: list[int],
) -> _Arrivals:
    """What arrives at each chip layer from the model input and the DVS layer (checking the DVS's input shape)."""
    arriving: _Arrivals = {k: [] for k in range(n_layers)}
    for k in entry_layers:
        arriving[k].append((INPUT, input_shape))
    if dvs is not None:
        if dvs.input_shape != input_shape and not (
            dvs.input_shape[1:] == input_shape[1:] and input_shape[0] == 2 and dvs.merge_polarities
        ):
            raise SpeckModelError(
                f"DVSLayer expects input of shape {dvs.input_shape} (or (2, H, W) with merged polarities), "
                f"but input_shape is {input_shape}"
            )
        for k in dvs_destinations:
            c, h, w = dvs.get_output_shape()
            arriving[k].append(("dvs", (c, w, h) if dvs.swap_xy else (c, h, w)))
    return arriving


def _shape_layer(
    layer: LayerPlan,
    module: nn.Module,
    arriving: _Arrivals,
    factors: set[float],
    weight_rescaling_fn: Callable[[Iterable[float]], float],
    chip: ChipSpec,
) -> None:
    """Fill in ``layer``'s shapes and (rescaled) weights from what arrives at it; pass its output on."""
    k = layer.index
    if not arriving[k]:
        raise SpeckModelError(f"layer {layer.name!r} receives no input")
    shapes = [s for _, s in arriving[k]]
    c_in, h_in, w_in = (max(s[d] for s in shapes) for d in range(3))
    in_shape = (c_in, h_in, w_in)
    layer.input_shape = in_shape
    layer.sources = [src for src, _ in arriving[k]]
    weight, bias, stride, padding = _as_conv(layer.name, module, in_shape)
    if weight.shape[-1] != weight.shape[-2]:
        raise LayerShapeError(
            f"{type(module).__name__} {layer.name!r} has a non-square kernel {tuple(weight.shape[-2:])}; "
            "the chip's kernels are square"
        )
    if len(factors) > 1:
        factor = weight_rescaling_fn(factors)
    else:
        factor = factors.pop() if factors else 1.0
    layer.unscaled_weight, layer.rescale_factor = weight, float(factor)
    if factor != 1.0:
        weight = weight * factor
    layer.weight, layer.bias, layer.stride, layer.padding = weight, bias, stride, padding
    k_size = weight.shape[-1]
    out_h = (in_shape[1] + 2 * padding[0] - k_size) // stride[0] + 1
    out_w = (in_shape[2] + 2 * padding[1] - k_size) // stride[1] + 1
    if out_h < 1 or out_w < 1:
        raise SpeckModelError(f"layer {layer.name!r}: kernel {k_size} does not fit its input {in_shape}")
    layer.neuron_shape = (int(weight.shape[0]), out_h, out_w)
    check_core_geometry(layer, module, chip)
    for dest in layer.destinations:
        if dest.target is not None:
            c, h, w = layer.neuron_shape
            arriving[dest.target].append((k, (c, h // dest.pooling, w // dest.pooling)))


def _fold_batchnorms(nodes: list[TracedNode]) -> dict[int, nn.Module]:
    """Each BatchNorm folded into the Conv2d / Linear it follows (sinabs's ``merge_bn``): ``{weight node: folded}``.

    A BatchNorm must take the output of a weight layer that feeds nothing else.
    """
    folded: dict[int, nn.Module] = {}
    for node in nodes:
        if node.kind != "bn":
            continue
        (source,) = node.sources
        if source == INPUT or nodes[source].kind not in ("conv", "linear"):
            found = "the model input" if source == INPUT else f"{nodes[source].name!r}"
            raise SpeckModelError(
                f"{type(node.module).__name__} {node.name!r} follows {found}; a BatchNorm can only follow a Conv2d "
                "or a Linear layer, into whose weights it is folded"
            )
        if sum(source in other.sources for other in nodes) != 1:
            raise SpeckModelError(
                f"{type(node.module).__name__} {node.name!r}: its weight layer {nodes[source].name!r} also feeds "
                "other layers, so the BatchNorm cannot be folded into it"
            )
        layer, bn = folded.get(source, nodes[source].module), node.module
        # the kinds "conv", "linear" and "bn" belong to these classes only (_kind)
        assert isinstance(layer, (nn.Conv2d, nn.Linear)) and isinstance(bn, (nn.BatchNorm1d, nn.BatchNorm2d))
        folded[source] = merge_bn(layer, bn)
    return folded


def _as_conv(
    name: str, module: nn.Module, in_shape: tuple[int, int, int]
) -> tuple[torch.Tensor, torch.Tensor | None, tuple[int, int], tuple[int, int]]:
    """Weight ``(C_out, C_in, k, k)``, bias, stride and padding of a Conv2d, or of a Linear seen as a Conv2d."""
    c, h, w = in_shape
    if isinstance(module, nn.Linear):
        try:
            conv = linear_to_conv(module, in_shape, name=name, init=False)
        except ValueError as exc:
            raise SpeckModelError(str(exc)) from None
        bias: torch.Tensor | None = None if conv.bias is None else conv.bias.detach()
        return conv.weight.detach(), bias, (1, 1), (0, 0)
    assert isinstance(module, nn.Conv2d)
    if module.in_channels != c:
        raise SpeckModelError(f"Conv2d {name!r} expects {module.in_channels} input channels but receives {c}")
    if _pair(module.dilation) != (1, 1) or module.groups != 1:
        raise SpeckModelError(
            f"Conv2d {name!r} has dilation {module.dilation} and groups {module.groups}; the chip needs 1 and 1"
        )
    if isinstance(module.padding, str):
        raise SpeckModelError(f"Conv2d {name!r} uses padding={module.padding!r}; give the padding as integers")
    if module.padding_mode != "zeros":
        raise SpeckModelError(f"Conv2d {name!r} uses padding_mode={module.padding_mode!r}; the chip pads with zeros")
    bias = None if module.bias is None else module.bias.detach().clone()
    return module.weight.detach().clone(), bias, _pair(module.stride), _pair(module.padding)


def check_core_geometry(layer: LayerPlan, module: nn.Module, chip: ChipSpec) -> None:
    """Raise :class:`SpeckModelError` naming the layer if its kernel, strides or channel counts exceed the chip's."""
    kind = type(module).__name__
    k = layer.kernel_size
    if k > chip.max_kernel_size:
        raise SpeckModelError(
            f"{kind} {layer.name!r} has a {k}x{k} kernel; the chip's kernels are at most "
            f"{chip.max_kernel_size}x{chip.max_kernel_size}"
        )
    for axis, s in zip("yx", layer.stride):
        if s not in chip.strides:
            raise SpeckModelError(
                f"{kind} {layer.name!r} has stride {s} along {axis}; the chip's strides are "
                f"{', '.join(map(str, chip.strides))}"
            )
    for what, count in (("input", layer.input_shape[0]), ("output", layer.neuron_shape[0])):
        if count > chip.max_feature_count:
            raise SpeckModelError(
                f"{kind} {layer.name!r} has {count} {what} channels; a core handles at most {chip.max_feature_count}"
            )
