"""The module ``from_nir`` returns: nirtorch's GraphExecutor attributes (checked against sinabs in tests/parity),
names, ``return_state``, copies and safe reloading."""

from __future__ import annotations

import copy
import io
import pickle

import nir
import numpy as np
import pytest
import torch

import spikekit
from spikekit_nir import NIRGraphModule


def _graph():
    w = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    return nir.NIRGraph(
        nodes={
            "x": nir.Input({"input": np.array([2])}),
            "block.lin": nir.Linear(w),
            "block.act": nir.IF(r=np.ones(2), v_threshold=np.ones(2)),
            "y": nir.Output({"output": np.array([2])}),
        },
        edges=[("x", "block.lin"), ("block.lin", "block.act"), ("block.act", "y")],
        type_check=False,
    )


def test_nodes_by_graph_name_nested_path_and_nirtorch_name():
    model = spikekit.from_nir(_graph(), batch_size=1)
    assert isinstance(model, NIRGraphModule)
    lin = model.get_node("block.lin")
    assert model.block.lin is lin and model.block_lin is lin and model.get_node("block_lin") is lin
    assert [n.name for n in model.execution_order] == ["x", "block_lin", "block_act", "y"]
    assert [n.name for n in model.get_input_nodes()] == ["x"] and [n.name for n in model.output_nodes] == ["y"]
    assert model.graph.get_edges() == [("x", "block_lin"), ("block_lin", "block_act"), ("block_act", "y")]
    assert model.graph.module_names[lin] == "block_lin"
    assert set(model.modules_by_name) == {"x", "block.lin", "block.act", "y"}
    with pytest.raises(KeyError, match="no node 'nope'"):
        model.get_node("nope")
    with pytest.raises(AttributeError):
        _ = model.nope


def test_return_state_gives_output_and_node_outputs():
    model = spikekit.from_nir(_graph(), batch_size=1)
    x = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    plain = model(x)
    spikekit.reset_states(model)
    model.return_state = True
    out, state = model(x)
    assert torch.equal(out, plain)
    assert set(state.cache) == {"x", "block_lin", "block_act", "y"} and state.state == {}
    assert torch.equal(state.cache["block_lin"], x @ torch.tensor([[1.0, 3.0], [2.0, 4.0]]))


@pytest.mark.parametrize("how", ["deepcopy", "pickle", "torch.save"])
def test_copies_and_safe_reloads_keep_the_graph(how):
    model = spikekit.from_nir(_graph(), batch_size=1)
    x = torch.rand(5, 2) * 3
    expected = model(x)
    if how == "deepcopy":
        twin = copy.deepcopy(model)
    else:
        su = pytest.importorskip("spikekit.utils")
        pytest.importorskip("spikekit_convert")
        if how == "pickle":
            data = pickle.dumps(model)
        else:
            buf = io.BytesIO()
            torch.save(model, buf)
            data = buf.getvalue()
        twin = su.load_sinabs_model(io.BytesIO(data))  # safe loading rebuilds every part of the module
    spikekit.reset_states(twin)
    assert torch.equal(twin(x), expected)
    assert twin.graph.find_node(twin.get_node("block.act")).name == "block_act"
