"""The structure of a NIR graph in linear time: adjacency, strongly connected components, execution order.

A NIR graph may hold cycles. The one spikekit runs is the recurrent pattern *neuron -> Affine/Linear -> same
neuron* (how snnTorch, norse and spikekit write recurrent layers): the weight node is folded into the neuron, which
becomes a recurrent layer whose recurrent edge carries the previous step's output (zero at the first step). Any
other cycle is refused with an error that names the nodes on it (a strongly connected component), not the nodes
downstream of it. Everything here costs O(nodes + edges).
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable

from spikekit_nir.conventions import ConversionError

__all__ = ["Adjacency", "RecurrentPair", "adjacency", "components", "execution_order", "fold_recurrent_pairs"]


@dataclasses.dataclass
class Adjacency:
    """Sources and consumers of every node, each list in the order of the graph's edges."""

    sources: dict[str, list[str]]
    consumers: dict[str, list[str]]


@dataclasses.dataclass(frozen=True)
class RecurrentPair:
    """A neuron whose output returns to its own input through one weight node (``weights``)."""

    neuron: str
    weights: str


def adjacency(names: list[str], edges: list[tuple[str, str]]) -> Adjacency:
    """The :class:`Adjacency` of a graph (edges name only known nodes, as ``check_graph`` ensures)."""
    sources: dict[str, list[str]] = {n: [] for n in names}
    consumers: dict[str, list[str]] = {n: [] for n in names}
    for a, b in edges:
        consumers[a].append(b)
        sources[b].append(a)
    return Adjacency(sources, consumers)


def components(names: list[str], consumers: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan's algorithm without recursion), each in the graph's node order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    position = {n: i for i, n in enumerate(names)}
    for root in names:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            children = consumers[node]
            if i < len(children):
                work.append((node, i + 1))
                child = children[i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if work:  # back in the parent: pass the low link up
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                part: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    part.append(member)
                    if member == node:
                        break
                found.append(sorted(part, key=position.__getitem__))
    return found


def fold_recurrent_pairs(
    names: list[str], adj: Adjacency, is_neuron: Callable[[str], bool], is_weight: Callable[[str], bool], where: str
) -> list[RecurrentPair]:
    """The recurrent pairs of the graph; a ConversionError naming the nodes of any other cycle.

    A pair is a strongly connected component of two nodes, a neuron ``n`` and a weight node ``w``, with ``w`` fed by
    ``n`` alone and feeding ``n`` alone. ``adj`` is changed: the pair's two edges are removed, ``w`` keeps no edge.
    """
    pairs: list[RecurrentPair] = []
    for part in components(names, adj.consumers):
        self_loop = len(part) == 1 and part[0] in adj.consumers[part[0]]
        if len(part) == 1 and not self_loop:
            continue
        pair = _as_pair(part, adj, is_neuron, is_weight)
        if pair is None:
            label = f"graph {where!r}" if where else "the graph"
            raise ConversionError(
                f"from_nir: {label} has a cycle through {part} that spikekit cannot run; the recurrent pattern it "
                "runs is neuron (LIF, CubaLIF, IF) -> Affine/Linear -> the same neuron, with the weight node fed by "
                "the neuron alone"
            )
        adj.consumers[pair.neuron].remove(pair.weights)
        adj.sources[pair.neuron].remove(pair.weights)
        adj.consumers[pair.weights].clear()
        adj.sources[pair.weights].clear()
        pairs.append(pair)
    return pairs


def _as_pair(
    part: list[str], adj: Adjacency, is_neuron: Callable[[str], bool], is_weight: Callable[[str], bool]
) -> RecurrentPair | None:
    if len(part) != 2:
        return None
    for neuron, weights in (part, part[::-1]):
        if (
            is_neuron(neuron)
            and is_weight(weights)
            and adj.sources[weights] == [neuron]
            and adj.consumers[weights] == [neuron]
        ):
            return RecurrentPair(neuron, weights)
    return None


def execution_order(names: list[str], adj: Adjacency, skip: set[str]) -> list[str]:
    """Kahn's order of the (now acyclic) graph, ties broken by the graph's node order; ``skip`` left out."""
    waiting = {n: len(adj.sources[n]) for n in names}
    ready = collections.deque(n for n in names if waiting[n] == 0)
    order: list[str] = []
    while ready:
        node = ready.popleft()
        if node not in skip:
            order.append(node)
        for child in adj.consumers[node]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    return order
