"""spikekit.to_nir / from_nir against sinabs 3.1.3 (parity session only)."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

sinabs = pytest.importorskip("sinabs")
ssl = pytest.importorskip("sinabs.layers")

import spikekit  # noqa: E402
import spikekit.layers as sl  # noqa: E402

B, T = 2, 5


def test_same_node_names_and_types_as_sinabs():
    def build(layers):
        return nn.Sequential(
            nn.Conv2d(1, 2, 3), layers.IAFSqueeze(batch_size=B), layers.SumPool2d(2), nn.Flatten(),
            nn.Linear(2 * 3 * 3, 4), layers.LIFSqueeze(tau_mem=4.0, norm_input=False, batch_size=B),
        )  # fmt: skip

    x = torch.rand(B * T, 1, 8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = sinabs.to_nir(build(ssl), x)
        ours = spikekit.to_nir(build(sl), x)
    assert set(ours.nodes) == set(theirs.nodes)
    assert {k: type(v).__name__ for k, v in ours.nodes.items()} == {
        k: type(v).__name__ for k, v in theirs.nodes.items()
    }
    assert sorted(ours.edges) == sorted(theirs.edges)


def test_from_nir_of_sinabs_graph_matches_sinabs():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), ssl.IAFSqueeze(batch_size=B), nn.Linear(4, 2),
                          ssl.LIFSqueeze(tau_mem=3.0, norm_input=False, batch_size=B))  # fmt: skip
    x = torch.rand(B * T, 3) * 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = sinabs.to_nir(model, x)
        theirs = sinabs.from_nir(graph, batch_size=B)(x)[0]
    ours = spikekit.from_nir(graph, batch_size=B)(x)
    assert torch.equal(ours, theirs)


# ------------------------------------------------------------------- the module from_nir returns, as sinabs's
def _both_from_nir(model, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = sinabs.to_nir(model, x)
        theirs = sinabs.from_nir(graph, batch_size=B)
    ours = spikekit.from_nir(graph, batch_size=B)
    return ours, theirs


def _nested_model(layers):
    from collections import OrderedDict

    block = nn.Sequential(nn.Linear(3, 4), layers.IAFSqueeze(batch_size=B))
    return nn.Sequential(OrderedDict(block=block, head=nn.Linear(4, 2), out=layers.LIFSqueeze(tau_mem=3.0,
                                                                                       batch_size=B)))  # fmt: skip


def test_from_nir_module_offers_the_graph_executor_attributes():
    torch.manual_seed(0)
    ours, theirs = _both_from_nir(_nested_model(ssl), torch.rand(B * T, 3))

    def described(nodes):
        return [(n.name, type(n.elem).__name__, sorted(o.name for o in n.outgoing_nodes)) for n in nodes]

    assert described(ours.execution_order) == described(theirs.execution_order)
    assert described(ours.get_execution_order()) == described(theirs.get_execution_order())
    assert {n.name for n in ours.get_input_nodes()} == {n.name for n in theirs.get_input_nodes()}
    assert {n.name for n in ours.graph.inputs} == {n.name for n in theirs.graph.inputs}
    assert sorted(ours.graph.get_edges()) == sorted(theirs.graph.get_edges())
    assert sorted(ours.graph.module_names.values()) == sorted(theirs.graph.module_names.values())
    assert ours.stateful_modules == theirs.stateful_modules
    for node in theirs.execution_order:  # node look-up by name, as attributes and through the graph
        mine = getattr(ours, node.name)
        assert type(mine) is not None and type(mine).__name__ == type(getattr(theirs, node.name)).__name__
        assert ours.graph.find_node(mine).name == node.name
        sources = [s.name for s in theirs.graph.find_source_nodes_of(node)]
        assert [s.name for s in ours.graph.find_source_nodes_of(ours.graph.find_node(mine))] == sources
    assert type(ours.input) is type(theirs.input) is nn.Identity
    assert type(ours.output) is type(theirs.output) is nn.Identity


def test_from_nir_module_children_and_single_node_graph_as_sinabs():
    ours, theirs = _both_from_nir(_nested_model(ssl), torch.rand(B * T, 3))
    mine, ref = list(ours.children()), list(theirs.children())
    assert (type(mine[0]), type(mine[-1])) == (type(ref[0]), type(ref[-1])) == (nn.Identity, nn.Identity)
    conv = nn.Conv2d(1, 3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = sinabs.to_nir(conv, torch.randn(B, 1, 8, 8))
        theirs = sinabs.from_nir(graph, batch_size=B)
    ours = spikekit.from_nir(graph, batch_size=B)
    assert ours.model.kernel_size == theirs.model.kernel_size == conv.kernel_size  # sinabs's own test reads .model
    assert [type(m).__name__ for m in ours.children()] == [type(m).__name__ for m in theirs.children()]


def test_from_nir_return_state_gives_sinabs_call_shape():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 4), ssl.IAFSqueeze(batch_size=B), nn.Linear(4, 2))
    x = torch.rand(B * T, 3) * 3
    ours, theirs = _both_from_nir(model, x)
    ours.return_state = True
    out, state = ours(x)
    ref_out, ref_state = theirs(x)
    assert torch.equal(out, ref_out)
    assert set(state.cache) == set(ref_state.cache)
    for name in ref_state.cache:
        assert torch.equal(state.cache[name], ref_state.cache[name]), name
    assert state.state == ref_state.state == {}
