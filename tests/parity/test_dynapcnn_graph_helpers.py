"""The helpers of sinabs's chip graph pass that spikekit-speck serves (``dynapcnn_layer_utils``,
``connectivity_specs``, ``sinabs_edges_handler``, ``nir_graph_extractor.get_new_index``) against sinabs 3.1.3's."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import torch
from torch import nn

pytest.importorskip("sinabs.backend.dynapcnn")
pytestmark = pytest.mark.parity

import sinabs.backend.dynapcnn.connectivity_specs as s_specs  # noqa: E402
import sinabs.backend.dynapcnn.dynapcnn_layer_utils as s_utils  # noqa: E402
import sinabs.backend.dynapcnn.sinabs_edges_handler as s_edges  # noqa: E402
import sinabs.layers as sl  # noqa: E402
import sinabs.utils  # noqa: E402

import spikekit.backend.dynapcnn.connectivity_specs as k_specs  # noqa: E402
import spikekit.backend.dynapcnn.dynapcnn_layer_utils as k_utils  # noqa: E402
import spikekit.backend.dynapcnn.sinabs_edges_handler as k_edges  # noqa: E402
import spikekit.layers as kl  # noqa: E402
from spikekit.backend.dynapcnn.nir_graph_extractor import get_new_index  # noqa: E402


def _outcome(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # the exception class is what is compared
        return type(exc)


POOLINGS = [
    lambda lib: lib.SumPool2d(2),
    lambda lib: lib.SumPool2d((3, 3)),
    lambda lib: lib.SumPool2d(2, stride=1),
    lambda lib: nn.AvgPool2d(2),
    lambda lib: nn.AvgPool2d((4, 4), stride=4),
    lambda lib: nn.AvgPool2d(3, stride=2),
    lambda lib: nn.MaxPool2d(2),
]


@pytest.mark.parametrize("seed", range(20))
def test_pooling_chains_give_sinabs_pooling_and_scale(seed):
    rng = random.Random(seed)
    chain = [rng.randrange(len(POOLINGS)) for _ in range(rng.randint(0, 3))]
    theirs = _outcome(s_utils.consolidate_dest_pooling, [POOLINGS[i](sl) for i in chain])
    ours = _outcome(k_utils.consolidate_dest_pooling, [POOLINGS[i](kl) for i in chain])
    if isinstance(theirs, type):
        assert ours is theirs or issubclass(ours, theirs)
    else:
        assert ours[0] == list(theirs[0])
        assert ours[1] == pytest.approx(theirs[1])


def _table(lib, seed):
    """A table of three chip layers: 0 -> (AvgPool 2) -> 1, 0 -> (SumPool 2, SumPool 2) -> 2,
    1 -> (AvgPool 2) -> 2, 2 -> two outputs."""
    torch.manual_seed(seed)

    def iaf():
        return lib.IAFSqueeze(batch_size=1, min_v_mem=-1.0)

    conv0, conv1, fc2 = nn.Conv2d(2, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 3, 2)

    def dest(target, pools, ids):
        return {"pooling_ids": ids, "pooling_modules": pools, "destination_layer": target}

    return {
        0: {
            "input_shape": (2, 8, 8),
            "rescale_factors": set(),
            "is_entry_node": True,
            "conv": {"module": conv0, "node_id": 0},
            "neuron": {"module": iaf(), "node_id": 1},
            "destinations": [dest(1, [nn.AvgPool2d(2)], [2]), dest(2, [lib.SumPool2d(2), lib.SumPool2d(2)], [3, 4])],
        },
        1: {
            "input_shape": (4, 4, 4),
            "rescale_factors": set(),
            "is_entry_node": False,
            "conv": {"module": conv1, "node_id": 5},
            "neuron": {"module": iaf(), "node_id": 6},
            "destinations": [dest(2, [nn.AvgPool2d(2)], [10])],
        },
        2: {
            "input_shape": (4, 2, 2),
            "rescale_factors": set(),
            "is_entry_node": False,
            "conv": {"module": fc2, "node_id": 7},
            "neuron": {"module": iaf(), "node_id": 8},
            "destinations": [dest(None, [], []), dest(None, [lib.SumPool2d(1)], [9])],
        },
    }


@pytest.mark.parametrize("discretize", [True, False])
def test_layers_from_a_table_are_sinabs_layers(discretize):
    s_table, k_table = _table(sl, 0), _table(kl, 0)

    def rescale(factors):  # layer 2 gets 1/4 (AvgPool from layer 1) and 1 (SumPool from layer 0)
        return min(factors)

    theirs = s_utils.construct_dynapcnnlayers_from_mapper(s_table, None, discretize, rescale)
    ours = k_utils.construct_dynapcnnlayers_from_mapper(k_table, None, discretize, rescale)
    assert ours[1:] == theirs[1:]  # destination map, entry points
    for index, layer in theirs[0].items():
        mine = ours[0][index]
        assert [list(p) for p in mine.pool] == [list(p) for p in layer.pool]
        assert mine.rescale_weights == pytest.approx(layer.rescale_weights)
        assert torch.equal(mine.conv.weight, layer.conv.weight)
    for index, info in s_table.items():
        mine = k_table[index]
        assert mine["rescale_factor"] == pytest.approx(info["rescale_factor"])
        assert mine["rescale_factors"] == info["rescale_factors"]
        assert [list(p) for p in mine["pooling_list"]] == [list(p) for p in info["pooling_list"]]


def test_conflicting_average_poolings_need_a_rescale_function_as_in_sinabs():
    with pytest.raises(ValueError):
        s_utils.construct_dynapcnnlayers_from_mapper(_table(sl, 0), None, False)
    with pytest.raises(ValueError, match="rescale_fn"):
        k_utils.construct_dynapcnnlayers_from_mapper(_table(kl, 0), None, False)


def test_valid_edge_types_are_sinabs_ones_by_class_name():
    def named(table):
        return {(a.__name__, b.__name__): kind for (a, b), kind in table.items()}

    assert named(k_specs.VALID_SINABS_EDGE_TYPES) == named(s_specs.VALID_SINABS_EDGE_TYPES)
    for group in ("LAYER_TYPES_WITH_MULTIPLE_INPUTS", "LAYER_TYPES_WITH_MULTIPLE_OUTPUTS", "SupportedNodeTypes"):
        assert [t.__name__ for t in getattr(k_specs, group)] == [t.__name__ for t in getattr(s_specs, group)]


def _random_edges(rng, n=7):
    return {(a, b) for a in range(n) for b in range(a + 1, n) if rng.random() < 0.3}


@pytest.mark.parametrize("seed", range(15))
def test_edge_helpers_give_sinabs_results(seed):
    rng = random.Random(seed)
    edges = _random_edges(rng)
    node = rng.randrange(4)
    assert k_edges.find_edges_by_source(edges, node) == s_edges.find_edges_by_source(edges, node)
    assert k_edges.remap_edges_after_drop(node, 9, edges) == s_edges.remap_edges_after_drop(node, 9, edges)
    tree = {(a, b) for a, b in edges if all(b != d for c, d in edges if c < a)}  # one path into each node
    theirs_paths, theirs_used = s_edges.trace_paths(node, set(tree))
    ours_paths, ours_used = k_edges.trace_paths(node, set(tree))
    assert Counter(map(tuple, ours_paths)) == Counter(map(tuple, theirs_paths))
    assert ours_used == theirs_used


def test_edges_sorted_by_type_as_in_sinabs_and_an_invalid_edge_refused():
    def modules(lib):
        return {0: nn.Conv2d(2, 2, 1), 1: lib.IAFSqueeze(batch_size=1), 2: lib.SumPool2d(2), 3: nn.Linear(2, 2)}

    edges = {(0, 1), (1, 2), (2, 3)}
    assert k_edges.sort_edges_by_type(edges, modules(kl)) == s_edges.sort_edges_by_type(edges, modules(sl))
    with pytest.raises(s_edges.InvalidEdge):
        s_edges.sort_edges_by_type({(0, 3)}, modules(sl))
    with pytest.raises(k_edges.InvalidEdge):
        k_edges.sort_edges_by_type({(0, 3)}, modules(kl))


@pytest.mark.parametrize("seed", range(10))
def test_get_new_index_is_sinabs(seed):
    rng = random.Random(seed)
    taken = rng.sample(range(10), rng.randint(0, 9))
    assert get_new_index(taken) == sinabs.utils.get_new_index(taken)


def _bn_graph(lib):
    """conv(0) -> bn(1) -> iaf(2) -> fc... as sinabs's graph: fc(3) -> bn1d(4) -> iaf(5), and a lone bn(6) -> iaf(7)."""
    torch.manual_seed(0)
    modules = {
        0: nn.Conv2d(2, 3, 3),
        1: nn.BatchNorm2d(3),
        2: lib.IAFSqueeze(batch_size=1),
        3: nn.Linear(4, 5),
        4: nn.BatchNorm1d(5),
        5: lib.IAFSqueeze(batch_size=1),
        6: nn.BatchNorm2d(3),
        7: lib.IAFSqueeze(batch_size=1),
    }
    g = torch.Generator().manual_seed(3)
    for i in (1, 4, 6):
        modules[i].running_mean.copy_(torch.rand(modules[i].num_features, generator=g))
        modules[i].running_var.copy_(torch.rand(modules[i].num_features, generator=g) + 0.5)
        modules[i].weight.data.copy_(torch.rand(modules[i].num_features, generator=g))
    names = {f"n{i}": i for i in modules}
    return {(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (6, 7)}, modules, names


def test_batchnorm_nodes_are_folded_and_dropped_as_in_sinabs():
    theirs, ours = _bn_graph(sl), _bn_graph(kl)
    s_edges.handle_batchnorm_nodes(*theirs)
    k_edges.handle_batchnorm_nodes(*ours)
    assert ours[0] == theirs[0]
    assert ours[2] == theirs[2]
    assert sorted(ours[1]) == sorted(theirs[1])
    for i in (0, 3):
        assert torch.allclose(ours[1][i].weight, theirs[1][i].weight)
        assert torch.allclose(ours[1][i].bias, theirs[1][i].bias)
