"""Placing chip layers on cores: memory per layer, a maximum bipartite matching, and a report.

Memory a layer needs (``C_in``/``C_out`` channels, ``k`` kernel, ``H x W`` neurons per channel)::

    kernel = C_in  * 2 ** (ceil(log2(k * k)) + ceil(log2(C_out)))
    neuron = C_out * 2 ** (ceil(log2(H)) + ceil(log2(W)))
    bias   = C_out (0 for a layer without bias)

A layer *fits* a core when all three are within the core's memories. Placement is a bipartite matching between
layers and the cores each fits, found as sinabs finds it, so that every route gives sinabs's cores: a maximum flow
(source -> layers -> cores -> sink, unit capacities) grown by breadth-first augmenting paths (Edmonds-Karp), with
the layers taken in sinabs's order (:func:`topological_sorting` of the layer graph, the numbering of
``DynapcnnNetwork``) and the cores in index order. It finds a placement whenever one exists, which a first-fit
assignment does not. When none exists, Hall's theorem names the culprit: a set of layers whose usable cores are
fewer than the layers themselves.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from spikekit_speck.chip import ChipSpec
from spikekit_speck.errors import MappingError

__all__ = [
    "layer_memory",
    "memory_of",
    "fitting_cores",
    "find_matching",
    "map_layers",
    "placement_order",
    "topological_sorting",
    "FlowGraphEdge",
    "make_flow_graph",
    "edmonds",
    "MemoryReport",
]


def memory_of(c_in: int, c_out: int, kernel: tuple[int, int], neurons: tuple[int, int], bias: bool) -> dict[str, int]:
    """``{"kernel", "neuron", "bias"}`` memory (words / entries) of a core running ``c_in -> c_out`` channels with a
    ``kernel`` ``(k_y, k_x)`` on ``neurons`` ``(H, W)`` neurons per channel (the formulas in the module docstring)."""
    kernel_words = c_in * 2 ** (math.ceil(math.log2(kernel[0] * kernel[1])) + math.ceil(math.log2(c_out)))
    neuron_words = c_out * 2 ** (math.ceil(math.log2(neurons[0])) + math.ceil(math.log2(neurons[1])))
    return {"kernel": int(kernel_words), "neuron": int(neuron_words), "bias": c_out if bias else 0}


def layer_memory(layer: Any) -> dict[str, int]:
    """``{"kernel", "neuron", "bias"}`` memory of a layer with ``weight (C_out, C_in, k, k)``, ``neuron_shape``
    ``(C_out, H, W)`` and ``bias`` (words / entries)."""
    c_out, c_in, kh, kw = (int(s) for s in layer.weight.shape)
    _, h, w = layer.neuron_shape
    return memory_of(c_in, c_out, (kh, kw), (int(h), int(w)), layer.bias is not None)


def fitting_cores(memory: dict[str, int], chip: ChipSpec) -> list[int]:
    """The cores whose kernel, neuron and bias memories all hold ``memory``."""
    return [
        i
        for i, core in enumerate(chip.cores)
        if memory["kernel"] <= core.kernel_memory
        and memory["neuron"] <= core.neuron_memory
        and memory["bias"] <= core.bias_memory
    ]


def find_matching(candidates: Sequence[Sequence[int]], num_cores: int) -> tuple[list[int | None], list[int]]:
    """Maximum matching of layers to cores (the maximum flow of :func:`make_flow_graph`, grown by :func:`edmonds`).

    Args:
        candidates: for each layer, the cores it fits.
        num_cores: number of cores.

    Returns:
        ``(core of each layer or None, layers of a Hall violator)``; the second list is empty when every layer got
        a core, else it is a set ``S`` of layers whose candidate cores number fewer than ``len(S)``.

    Example:
        >>> find_matching([[0, 1], [0]], 2)
        ([1, 0], [])
    """
    n = len(candidates)
    graph = edmonds(make_flow_graph([list(c) for c in candidates], num_cores), 0, n + num_cores + 1)
    assignment: list[int | None] = [None] * n
    for layer in range(n):
        for edge in graph[layer + 1]:
            if edge.flow == 1 and edge.t > n:
                assignment[layer] = edge.t - n - 1
    unmatched = [i for i, a in enumerate(assignment) if a is None]
    if not unmatched:
        return assignment, []
    core_owner = {core: layer for layer, core in enumerate(assignment) if core is not None}
    # Layers reachable from an unmatched layer by alternating paths: their neighbourhood is too small (König).
    reached, frontier = {unmatched[0]}, [unmatched[0]]
    while frontier:
        layer = frontier.pop()
        for core in candidates[layer]:
            owner = core_owner.get(core)
            if owner is not None and owner not in reached:
                reached.add(owner)
                frontier.append(owner)
    return assignment, sorted(reached)


@dataclasses.dataclass(eq=False)
class FlowGraphEdge:
    """An edge ``s -> t`` of the flow graph with its capacity, current flow and reverse edge."""

    s: int
    t: int
    cap: int
    flow: int = 0
    rev: FlowGraphEdge | None = None

    def __repr__(self) -> str:
        return f"FlowGraphEdge from {self.s} to {self.t} with capacity {self.cap} and flow {self.flow}"


def _connect(graph: list[list[FlowGraphEdge]], s: int, t: int) -> None:
    forward, backward = FlowGraphEdge(s, t, 1), FlowGraphEdge(t, s, 0)
    forward.rev, backward.rev = backward, forward
    graph[s].append(forward)
    graph[t].append(backward)


def make_flow_graph(layer_mapping: list[list[int]], num_layers: int = 9) -> list[list[FlowGraphEdge]]:
    """The flow network: node 0 the source, 1..L the layers, then ``num_layers`` cores, then the sink.

    Args:
        layer_mapping: for each layer, the cores it fits.
        num_layers: the number of cores (sinabs's name).
    """
    n_layers = len(layer_mapping)
    offset = n_layers + 1
    sink = offset + num_layers
    graph: list[list[FlowGraphEdge]] = [[] for _ in range(sink + 1)]
    for i in range(n_layers):
        _connect(graph, 0, i + 1)
    for i, cores in enumerate(layer_mapping):
        for core in cores:
            _connect(graph, i + 1, core + offset)
    for core_node in range(offset, sink):
        _connect(graph, core_node, sink)
    return graph


def edmonds(
    graph: list[list[FlowGraphEdge]], source: int, sink: int, verbose: bool = False
) -> list[list[FlowGraphEdge]]:
    """Maximum flow by breadth-first augmenting paths, on a copy of ``graph`` (returned with its flows)."""
    graph = copy.deepcopy(graph)
    while True:
        pred: list[FlowGraphEdge | None] = [None] * len(graph)
        queue = collections.deque([source])
        while queue:
            node = queue.popleft()
            for edge in graph[node]:
                if pred[edge.t] is None and edge.t != source and edge.cap > edge.flow:
                    pred[edge.t] = edge
                    queue.append(edge.t)
        if pred[sink] is None:
            return graph
        path = _path(pred, sink)
        delta = min(e.cap - e.flow for e in path)
        for edge in path:
            edge.flow += delta
            assert edge.rev is not None  # every edge is made with its reverse (_connect)
            edge.rev.flow -= delta
        if verbose:
            print(f"augmented the flow by {delta}")


def _path(pred: list[FlowGraphEdge | None], sink: int) -> list[FlowGraphEdge]:
    path = []
    edge = pred[sink]
    while edge is not None:
        path.append(edge)
        edge = pred[edge.s]
    return path


def topological_sorting(edges: set[tuple[Any, Any]]) -> list[Any]:
    """Kahn's algorithm over ``edges`` (visited in sorted order); entry nodes are flagged by edges ``("input", X)``.

    This is how sinabs numbers a ``DynapcnnNetwork``'s layers, and the order in which layers are placed.

    Raises:
        ValueError: the graph has a cycle.
    """
    graph: dict[Any, list[Any]] = collections.defaultdict(list)
    in_degree: dict[Any, int] = collections.defaultdict(int)
    # In a fixed order (sinabs iterates the set, whose order depends on Python's string hash seed when the edges
    # hold "input" or "dvs"), so that parallel branches are numbered the same way in every run.
    for u, v in sorted(edges, key=_edge_key):
        if u != "input":
            graph[u].append(v)
            in_degree[v] += 1
        in_degree.setdefault(v, 0)
    queue = collections.deque(node for node, degree in in_degree.items() if degree == 0)
    order = []
    while queue:
        node = queue.popleft()
        order.append(node)
        for neighbour in graph[node]:
            in_degree[neighbour] -= 1
            if in_degree[neighbour] == 0:
                queue.append(neighbour)
    if len(order) != len(in_degree):
        raise ValueError("The graph has a cycle and cannot be topologically sorted.")
    return order


def _edge_key(edge: tuple[Any, Any]) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, v, "") if isinstance(v, int) else (1, 0, str(v)) for v in edge)


def placement_order(layers: Sequence[Any]) -> list[int]:
    """Positions in ``layers`` in sinabs's order: :func:`topological_sorting` of the graph their ``sources`` make
    (``INPUT`` = -1, ``"dvs"`` or layer indices, as in a :class:`~spikekit_speck.graph.LayerPlan`); the given order
    for layers without ``sources``."""
    if not all(hasattr(layer, "sources") for layer in layers):
        return list(range(len(layers)))
    edges: set[tuple[Any, Any]] = set()
    for layer in layers:
        for source in layer.sources:
            if source == "dvs":
                edges |= {("dvs", layer.index), ("input", "dvs")}
            else:
                edges.add(("input" if source == -1 else source, layer.index))
    position = {layer.index: i for i, layer in enumerate(layers)}
    order = [position[node] for node in topological_sorting(edges) if node in position]
    return order + [i for i in range(len(layers)) if i not in order]


def _ki(words: int) -> str:
    return f"{words / 1024:g}Ki"


def map_layers(layers: Sequence[Any], chip: ChipSpec, layer2core: dict[int, int] | None = None) -> dict[int, int]:
    """Assign every chip layer a core; raise :class:`MappingError` saying precisely why when impossible.

    Args:
        layers: objects with ``index``, ``name``, ``weight``, ``bias`` and ``neuron_shape`` (see :func:`layer_memory`).
        chip: the chip's cores.
        layer2core: a placement chosen by the user, checked instead of searched.

    Returns:
        ``{layer index: core id}``.
    """
    if len(layers) > chip.num_cores:
        names = ", ".join(repr(layer.name) for layer in layers)
        raise MappingError(
            f"the network needs {len(layers)} cores ({names}) but the chip has {chip.num_cores}; "
            "each Conv2d/Linear + IAFSqueeze pair takes one core"
        )
    memories = [layer_memory(layer) for layer in layers]
    candidates = [fitting_cores(m, chip) for m in memories]
    for layer, memory, cores in zip(layers, memories, candidates):
        if not cores:
            raise MappingError(f"layer {layer.name!r} fits no core: {_why_no_core(memory, chip)}")
    if layer2core is not None:
        used: dict[int, str] = {}
        for layer, memory, cores in zip(layers, memories, candidates):
            core = layer2core.get(layer.index)
            if core is None:
                raise MappingError(f"layer2core has no core for layer {layer.index} ({layer.name!r})")
            if core not in cores:
                raise MappingError(
                    f"layer {layer.name!r} does not fit core {core}: {_why_not_core(memory, chip, core)}; "
                    f"it fits cores {cores}"
                )
            if core in used:
                raise MappingError(f"layers {used[core]!r} and {layer.name!r} are both placed on core {core}")
            used[core] = layer.name
        return {layer.index: layer2core[layer.index] for layer in layers}
    order = placement_order(layers)
    found, violating = find_matching([candidates[i] for i in order], chip.num_cores)
    assignment: list[int | None] = [None] * len(layers)
    for k, i in enumerate(order):
        assignment[i] = found[k]
    violators = sorted(order[k] for k in violating)
    if violators:
        cores = sorted({c for i in violators for c in candidates[i]})
        detail = "; ".join(
            f"{layers[i].name!r} (kernel {_ki(memories[i]['kernel'])}, neuron {_ki(memories[i]['neuron'])}) "
            f"fits cores {candidates[i]}"
            for i in violators
        )
        raise MappingError(
            f"No valid mapping found: {len(violators)} layers can only use the {len(cores)} cores {cores}: {detail}"
        )
    placed = {}
    for layer, core in zip(layers, assignment):
        assert core is not None  # find_matching lists every unmatched layer among the violators
        placed[layer.index] = int(core)
    return placed


def _why_not_core(memory: dict[str, int], chip: ChipSpec, core: int) -> str:
    limits = chip.cores[core]
    parts = []
    for key, limit in (("kernel", limits.kernel_memory), ("neuron", limits.neuron_memory)):
        if memory[key] > limit:
            parts.append(f"{key} memory {_ki(memory[key])} > {_ki(limit)}")
    if memory["bias"] > limits.bias_memory:
        parts.append(f"bias memory {memory['bias']} > {limits.bias_memory}")
    return ", ".join(parts)


def _why_no_core(memory: dict[str, int], chip: ChipSpec) -> str:
    needs = f"it needs kernel memory {_ki(memory['kernel'])}, neuron memory {_ki(memory['neuron'])}"
    if memory["bias"]:
        needs += f" and {memory['bias']} biases"
    reasons = "; ".join(f"core {i}: {_why_not_core(memory, chip, i)}" for i in range(chip.num_cores))
    return f"{needs} ({reasons}). Use fewer channels, a smaller kernel or a smaller feature map"


@dataclasses.dataclass
class MemoryReport:
    """Memory per layer and per core of a mapped network.

    ``layers[i]`` = ``{"name", "core", "kernel", "neuron", "bias", "kernel_capacity", "neuron_capacity"}``;
    ``cores[c]`` = ``{"layer", "kernel_used", "kernel_capacity", "neuron_used", "neuron_capacity", "bias_used",
    "bias_capacity"}`` (``layer`` None for a free core). ``kernel``/``neuron``/``bias`` are sinabs-style
    ``{layer index: words}`` dicts, as returned by ``DynapcnnNetwork.memory_summary()``.
    """

    layers: list[dict[str, Any]]
    cores: list[dict[str, Any]]

    @classmethod
    def build(cls, layers: Sequence[Any], layer2core: dict[int, int], chip: ChipSpec) -> MemoryReport:
        rows = []
        owner: dict[int, int] = {}
        for layer in layers:
            memory = layer_memory(layer)
            core = layer2core[layer.index]
            owner[core] = layer.index
            rows.append(
                {
                    "layer": layer.index,
                    "name": layer.name,
                    "core": core,
                    **memory,
                    "kernel_capacity": chip.cores[core].kernel_memory,
                    "neuron_capacity": chip.cores[core].neuron_memory,
                }
            )
        by_index = {row["layer"]: row for row in rows}
        cores = []
        for c, limits in enumerate(chip.cores):
            row = by_index.get(owner[c]) if c in owner else None
            cores.append(
                {
                    "core": c,
                    "layer": None if row is None else row["layer"],
                    "kernel_used": 0 if row is None else row["kernel"],
                    "kernel_capacity": limits.kernel_memory,
                    "neuron_used": 0 if row is None else row["neuron"],
                    "neuron_capacity": limits.neuron_memory,
                    "bias_used": 0 if row is None else row["bias"],
                    "bias_capacity": limits.bias_memory,
                }
            )
        return cls(rows, cores)

    def as_dict(self) -> dict[str, Any]:
        return {"layers": self.layers, "cores": self.cores}

    @property
    def kernel(self) -> dict[int, int]:
        return {row["layer"]: row["kernel"] for row in self.layers}

    @property
    def neuron(self) -> dict[int, int]:
        return {row["layer"]: row["neuron"] for row in self.layers}

    @property
    def bias(self) -> dict[int, int]:
        return {row["layer"]: row["bias"] for row in self.layers}

    def __getitem__(self, key: str) -> dict[int, int]:
        """``report["kernel"]`` etc., as sinabs's ``memory_summary()`` dict."""
        if key not in ("kernel", "neuron", "bias"):
            raise KeyError(key)
        return getattr(self, key)

    def __str__(self) -> str:
        lines = ["layer  name                  core  kernel (used/cap)      neuron (used/cap)      bias"]
        for row in self.layers:
            lines.append(
                f"{row['layer']:<6} {row['name'][:20]:<21} {row['core']:<5} "
                f"{_ki(row['kernel']):>8} / {_ki(row['kernel_capacity']):<10} "
                f"{_ki(row['neuron']):>8} / {_ki(row['neuron_capacity']):<10} {row['bias']}"
            )
        return "\n".join(lines)
