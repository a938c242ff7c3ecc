"""``GraphExtractor.dcnnl_info`` (the table of chip layers of the graph pass) against sinabs 3.1.3's, on the
parity networks of ``test_dynapcnn_network``.

sinabs numbers the table's layers in the order it pops them from a set, so entries are matched by the name of
their weight layer, and a layer's destinations are compared as a sorted list. sinabs gives no ``"output_shape"`` for a destination that
leaves the network; spikekit gives it there too.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from torch import nn

pytest.importorskip("sinabs.backend.dynapcnn")
pytestmark = pytest.mark.parity


def _networks():
    """The parity networks' module (``test_dynapcnn_network``), loaded from beside this file."""
    spec = importlib.util.spec_from_file_location(
        "_dynapcnn_parity_networks", Path(__file__).with_name("test_dynapcnn_network.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_NETWORKS = _networks()
NAMES, _pair = _NETWORKS.NAMES, _NETWORKS._pair


def _described(net):
    extractor = net._graph_extractor
    name_of = {i: name.replace(".", "_") for name, i in extractor.name_2_indx_map.items()}
    layer_name = {index: name_of[info["conv"]["node_id"]] for index, info in extractor.dcnnl_info.items()}
    found = {}
    for index, info in extractor.dcnnl_info.items():
        destinations = sorted(
            (
                layer_name.get(d["destination_layer"], ""),
                tuple(name_of[p] for p in d["pooling_ids"]),
                tuple(d["output_shape"]) if d["destination_layer"] is not None else (),  # sinabs: none for exits
                tuple(d["cumulative_pooling"]),
                round(d["cumulative_scaling"], 9),
            )
            for d in info["destinations"]
        )
        found[layer_name[index]] = {
            "neuron": name_of[info["neuron"]["node_id"]],
            "input_shape": tuple(info["input_shape"]),
            "is_entry_node": info["is_entry_node"],
            "rescale_factor": round(float(info["rescale_factor"]), 9),
            "pooling_list": sorted(tuple(p) for p in info["pooling_list"]),
            "destinations": destinations,
        }
    return found


@pytest.mark.parametrize("name", NAMES)
def test_the_table_of_chip_layers_matches_sinabs(name):
    theirs, ours = _pair(name)
    assert _described(ours) == _described(theirs)


@pytest.mark.parametrize("name", NAMES)
def test_the_table_names_the_model_layers_and_the_network_holds_copies(name):
    _, ours = _pair(name)
    modules = dict(ours._graph_extractor.indx_2_module_map)
    # The network numbers its layers again, in topological order with the DVS layer first (as sinabs's does).
    in_network = {plan_index: index for index, plan_index in ours._plan_index.items()}
    for index, info in ours._graph_extractor.dcnnl_info.items():
        assert info["conv"]["module"] is modules[info["conv"]["node_id"]]
        assert info["neuron"]["module"] is modules[info["neuron"]["node_id"]]
        assert ours.dynapcnn_layers[in_network[index]].spk is not info["neuron"]["module"]
        assert (
            ours.dynapcnn_layers[in_network[index]].conv.out_channels == info["conv"]["module"].out_features
            if isinstance(info["conv"]["module"], nn.Linear)
            else info["conv"]["module"].out_channels
        )


def _dvs_described(net):
    extractor = net._graph_extractor
    info = extractor.dvs_layer_info
    if info is None:
        return None
    name_of = {i: name.replace(".", "_") for name, i in extractor.name_2_indx_map.items()}
    layer_name = {index: name_of[entry["conv"]["node_id"]] for index, entry in extractor.dcnnl_info.items()}
    pooling = info["pooling"]
    return {
        "node": name_of[info["node_id"]],
        "input_shape": tuple(info["input_shape"]),
        "pooling": None if pooling is None else (name_of[pooling["node_id"]], type(pooling["module"]).__name__),
        "destinations": None if info["destinations"] is None else sorted(layer_name[d] for d in info["destinations"]),
        "pool_layer": tuple(info["module"].pool_layer.kernel_size),
    }


@pytest.mark.parametrize("name", NAMES)
def test_the_dvs_layer_info_matches_sinabs(name):
    theirs, ours = _pair(name)
    assert _dvs_described(ours) == _dvs_described(theirs)
