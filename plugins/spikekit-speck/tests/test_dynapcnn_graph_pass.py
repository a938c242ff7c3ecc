"""sinabs's graph-pass modules as spikekit-speck serves them: the pooling helpers of ``dynapcnn_layer_utils``, the
table ``GraphExtractor.dcnnl_info`` and the shapes of the graph (checked against sinabs in tests/parity)."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import spikekit.layers as sl
from spikekit.backend.dynapcnn import DynapcnnNetwork, GraphExtractor
from spikekit.backend.dynapcnn.dynapcnn_layer_utils import (
    consolidate_dest_pooling,
    construct_destination_map,
    construct_dynapcnnlayers_from_mapper,
    extract_pooling_from_module,
)


def test_a_pooling_chain_multiplies_sizes_and_average_scales():
    pooling, scale = consolidate_dest_pooling([nn.AvgPool2d(2), sl.SumPool2d(3), nn.AvgPool2d((2, 2), stride=2)])
    assert pooling == [2 * 3 * 2, 2 * 3 * 2]
    assert scale == pytest.approx(1 / 4 * 1 / 4)
    assert consolidate_dest_pooling([]) == ([1, 1], 1.0)


@pytest.mark.parametrize("layer", [nn.AvgPool2d(3, stride=1), nn.MaxPool2d(2), nn.ReLU()])
def test_a_pooling_the_chip_cannot_do_is_refused(layer):
    with pytest.raises(ValueError, match="stride|Unsupported"):
        extract_pooling_from_module(layer)


def _entry(conv, target_pools, entry=False):
    return {
        "input_shape": (conv.in_channels, 4, 4),
        "rescale_factors": set(),
        "is_entry_node": entry,
        "conv": {"module": conv, "node_id": 0},
        "neuron": {"module": sl.IAFSqueeze(batch_size=1), "node_id": 1},
        "destinations": [
            {"pooling_ids": [], "pooling_modules": pools, "destination_layer": target} for target, pools in target_pools
        ],
    }


def test_layers_from_a_table_take_the_pooling_and_the_weight_scale_of_an_average_pooling_before_them():
    torch.manual_seed(0)
    table = {
        0: _entry(nn.Conv2d(2, 3, 1), [(1, [nn.AvgPool2d(2)]), (None, []), (None, [sl.SumPool2d(2)])], entry=True),
        1: _entry(nn.Conv2d(3, 2, 1), [(None, [])]),
    }
    weight = table[1]["conv"]["module"].weight.detach().clone()
    layers, destinations, entries = construct_dynapcnnlayers_from_mapper(table, None, discretize=False)
    assert destinations == {0: [1, -1, -2], 1: [-1]}
    assert entries == {0}
    assert layers[0].pool == [[2, 2], [1, 1], [2, 2]]
    assert layers[1].rescale_weights == pytest.approx(1 / 4)
    assert torch.allclose(layers[1].conv.weight, weight / 4)
    assert construct_destination_map(table, {"destinations": None}) == {0: [1, -1, -2], 1: [-1], "dvs": [-1]}


def test_different_average_poolings_into_one_layer_need_a_rescale_function():
    table = {
        0: _entry(nn.Conv2d(2, 3, 1), [(2, [nn.AvgPool2d(2)])], entry=True),
        1: _entry(nn.Conv2d(2, 3, 1), [(2, [nn.AvgPool2d(4)])], entry=True),
        2: _entry(nn.Conv2d(3, 2, 1), [(None, [])]),
    }
    with pytest.raises(ValueError, match="rescale_fn"):
        construct_dynapcnnlayers_from_mapper(table, None, discretize=False)


def _model():
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        sl.IAFSqueeze(batch_size=1),
        nn.AvgPool2d(2),
        sl.SumPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 2 * 2, 5),
        sl.IAFSqueeze(batch_size=1),
    )


def test_the_table_of_chip_layers_names_the_models_layers_and_their_poolings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = DynapcnnNetwork(_model(), input_shape=(2, 8, 8), discretize=False)
    extractor = net._graph_extractor
    index = extractor.name_2_indx_map
    first, second = extractor.dcnnl_info[0], extractor.dcnnl_info[1]
    assert (first["conv"]["node_id"], first["neuron"]["node_id"]) == (index["0"], index["1"])
    assert first["is_entry_node"] and not second["is_entry_node"]
    (destination,) = first["destinations"]
    assert destination["destination_layer"] == 1
    assert destination["pooling_ids"] == [index["2"], index["3"]]
    assert destination["cumulative_pooling"] == [4, 4]
    assert destination["cumulative_scaling"] == pytest.approx(1 / 4)
    assert destination["output_shape"] == (4, 2, 2)
    assert second["input_shape"] == (4, 2, 2)
    assert second["rescale_factor"] == pytest.approx(1 / 4)
    assert second["destinations"][0]["destination_layer"] is None


def test_flat_shapes_of_the_graph_are_given_as_chip_shapes():
    extractor = GraphExtractor(_model(), torch.zeros(1, 2, 8, 8))
    shapes = extractor.nodes_io_shapes
    index = extractor.name_2_indx_map
    assert shapes[index["4"]] == {"input": (4, 2, 2), "output": (16, 1, 1)}  # the Flatten
    assert shapes[index["5"]] == {"input": (16, 1, 1), "output": (5, 1, 1)}  # the Linear
    assert shapes[index["0"]] == {"input": (2, 8, 8), "output": (4, 8, 8)}


def test_a_dvs_layer_put_in_front_is_named_dvs_and_the_models_names_stay():
    extractor = GraphExtractor(_model(), torch.zeros(1, 2, 8, 8), dvs_input=True)
    names = set(extractor.name_2_indx_map)
    assert "dvs" in names and {"0", "1", "5"} <= names
    assert extractor.name_2_indx_map["dvs"] == extractor.dvs_node_id
