"""``.nir`` files and NIR graphs as untrusted input: HDF5 indirection, allocation bombs, malformed files and
graphs, clashing names, deep nesting, duplicate edges and invalid parameter values."""

from __future__ import annotations

import os
import tracemalloc

import h5py
import nir
import numpy as np
import pytest
import torch

import spikekit
from spikekit_nir import ConversionError
from spikekit_nir.safe_read import read_nir


def affine_graph() -> nir.NIRGraph:
    return nir.NIRGraph.from_list(nir.Affine(np.eye(3, dtype=np.float32), np.zeros(3, dtype=np.float32)))


@pytest.fixture
def nir_file(tmp_path):
    path = tmp_path / "model.nir"
    nir.write(path, affine_graph())
    return path


def _replace(path, key, make):
    with h5py.File(path, "a") as f:
        del f[key]
        make(f, key)


def _weight_key(path) -> str:
    with h5py.File(path, "r") as f:
        names = [k for k in f["node/nodes"] if f[f"node/nodes/{k}/type"][()] == b"Affine"]
    return f"node/nodes/{names[0]}/weight"


# ---------------------------------------------------------------------------------------------- HDF5 indirection
def test_external_storage_is_refused(nir_file, tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(9, dtype=np.float32).tobytes())  # another local file's bytes
    key = _weight_key(nir_file)
    _replace(nir_file, key, lambda f, k: f.create_dataset(k, shape=(3, 3), dtype="f4", external=[(str(secret), 0, 36)]))
    with h5py.File(nir_file, "r") as f:  # the hole: h5py hands out the other file's bytes
        assert f[key][()].ravel().tolist() == list(range(9))
    with pytest.raises(ConversionError, match="external files") as info:
        spikekit.from_nir(nir_file)
    assert str(nir_file) in str(info.value)
    assert "weight" in str(info.value)


def test_external_link_is_refused(nir_file, tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["w"] = np.ones((3, 3), dtype=np.float32)
    key = _weight_key(nir_file)
    _replace(nir_file, key, lambda f, k: f.__setitem__(k, h5py.ExternalLink(str(other), "/w")))
    with pytest.raises(ConversionError, match="external link") as info:
        spikekit.nir.load(nir_file)
    assert str(nir_file) in str(info.value) and "weight" in str(info.value)


def test_soft_link_is_refused(nir_file):
    key = _weight_key(nir_file)
    bias = key.replace("weight", "bias")
    _replace(nir_file, bias, lambda f, k: f.__setitem__(k, h5py.SoftLink("/" + key)))
    with pytest.raises(ConversionError, match="soft link"):
        spikekit.from_nir(nir_file)


def test_virtual_dataset_is_refused(nir_file, tmp_path):
    source = tmp_path / "source.h5"
    with h5py.File(source, "w") as f:
        f["w"] = np.ones((3, 3), dtype=np.float32)

    def make(f, k):
        layout = h5py.VirtualLayout(shape=(3, 3), dtype="f4")
        layout[:] = h5py.VirtualSource(str(source), "w", shape=(3, 3))
        f.create_virtual_dataset(k, layout)

    _replace(nir_file, _weight_key(nir_file), make)
    with pytest.raises(ConversionError, match="virtual"):
        spikekit.from_nir(nir_file)


# ------------------------------------------------------------------------------------------------ allocation bomb
def _bomb(path, key):
    # 200k x 200k float32 = 149 GiB declared, chunked and compressed, never written: the file stays tiny
    _replace(path, key, lambda f, k: f.create_dataset(k, shape=(200_000, 200_000), dtype="f4", chunks=(64, 64),
                                                      compression="gzip"))  # fmt: skip


def test_allocation_bomb_is_refused_without_allocating(nir_file):
    _bomb(nir_file, _weight_key(nir_file))
    assert os.path.getsize(nir_file) < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(ConversionError, match="max_bytes") as info:
            spikekit.from_nir(nir_file)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"refusing the file allocated {peak} bytes"
    assert "declares 160000000000 bytes" in str(info.value) and "field 'weight'" in str(info.value)


def test_the_size_check_comes_before_any_data_is_read(nir_file, monkeypatch, tmp_path):
    good = tmp_path / "good.nir"
    nir.write(good, affine_graph())
    _bomb(nir_file, _weight_key(nir_file))
    reads = []
    original = h5py.Dataset.__getitem__

    def counting(self, key):
        reads.append(self.name)
        return original(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", counting)
    with pytest.raises(ConversionError, match="max_bytes"):
        spikekit.from_nir(nir_file)
    assert reads == [], f"data was read before the refusal: {reads}"
    spikekit.from_nir(good)
    assert any(name.endswith("/weight") for name in reads)  # the counter does see reads


def test_max_bytes_is_a_keyword_with_a_working_default(nir_file):
    assert isinstance(spikekit.from_nir(nir_file), torch.nn.Module)
    with pytest.raises(ConversionError, match="max_bytes=16"):
        spikekit.from_nir(nir_file, max_bytes=16)
    with pytest.raises(ValueError, match="max_bytes"):
        read_nir(nir_file, max_bytes=0)


# ------------------------------------------------------------------------------------------------ malformed files
def _edit(path, key, value=None, delete=False):
    with h5py.File(path, "a") as f:
        del f[key]
        if not delete:
            f[key] = value


@pytest.mark.parametrize(
    ("field", "value", "delete", "message"),
    [
        ("bias", None, True, "missing"),
        ("type", "NoSuchNode", False, "unknown NIR node type"),
        ("weight", "not numbers", False, "expected numbers"),
        ("bias", np.zeros(5, dtype=np.float32), False, "cannot be built|refused"),
    ],
)
def test_malformed_node_names_file_node_and_field(nir_file, field, value, delete, message):
    key = _weight_key(nir_file).replace("weight", field)
    node = key.split("/")[2]
    _edit(nir_file, key, value, delete)
    with pytest.raises(ConversionError, match=message) as info:
        spikekit.from_nir(nir_file)
    text = str(info.value)
    assert str(nir_file) in text and repr(node) in text, text


def test_unknown_field_is_named(nir_file):
    key = _weight_key(nir_file).replace("weight", "surprise")
    with h5py.File(nir_file, "a") as f:
        f[key] = np.ones(2)
    with pytest.raises(ConversionError, match="'surprise'.*not a field"):
        spikekit.from_nir(nir_file)


def test_neuron_with_mismatched_shapes_is_refused_with_names(tmp_path):
    path = tmp_path / "lif.nir"
    g = nir.NIRGraph.from_list(nir.LIF(tau=np.ones(3) * 2, r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3)))
    nir.write(path, g)
    with h5py.File(path, "a") as f:
        lif = next(k for k in f["node/nodes"] if f[f"node/nodes/{k}/type"][()] == b"LIF")
        del f[f"node/nodes/{lif}/v_leak"]
        f[f"node/nodes/{lif}/v_leak"] = np.zeros(5)
    with pytest.raises(ConversionError) as info:
        spikekit.from_nir(path, batch_size=1)
    assert str(path) in str(info.value) and repr(lif) in str(info.value)


@pytest.mark.parametrize("content", [b"", b"not an hdf5 file at all", b"\x89HDF\r\n\x1a\n" + b"\0" * 40])
def test_not_a_nir_file(tmp_path, content):
    path = tmp_path / "broken.nir"
    path.write_bytes(content)
    with pytest.raises(ConversionError, match="broken.nir"):
        spikekit.from_nir(path)


def test_truncated_file(nir_file):
    data = nir_file.read_bytes()
    nir_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(ConversionError, match=str(nir_file.name)):
        spikekit.from_nir(nir_file)


def test_file_without_node_group(tmp_path):
    path = tmp_path / "empty.nir"
    with h5py.File(path, "w") as f:
        f["version"] = "1.0"
    with pytest.raises(ConversionError, match="field 'node'"):
        spikekit.from_nir(path)


# ------------------------------------------------------------------------------------------------ graph structure
@pytest.mark.parametrize("name", ["forward", "training", "execution_order", "graph", "get_node", "input_names"])
def test_node_names_that_clash_with_module_attributes(name):
    w = np.array([[2.0, 0.0], [0.0, 3.0]], dtype=np.float32)
    g = nir.NIRGraph(
        nodes={"input": nir.Input({"input": np.array([2])}), name: nir.Linear(w), "output": nir.Output({"output": np.array([2])})},
        edges=[("input", name), (name, "output")],
        type_check=False,
    )  # fmt: skip
    model = spikekit.from_nir(g)
    out = model(torch.ones(1, 2))
    assert out.tolist() == [[2.0, 3.0]]
    assert isinstance(model.get_node(name), torch.nn.Linear)
    assert model.modules_by_name[name] is model.get_node(name)
    assert callable(model.forward) and isinstance(model.training, bool)


def _nested(depth: int) -> nir.NIRGraph:
    g = affine_graph()
    for _ in range(depth):
        g = nir.NIRGraph(
            nodes={"input": nir.Input({"input": np.array([3])}), "sub": g, "output": nir.Output({"output": np.array([3])})},
            edges=[("input", "sub"), ("sub", "output")],
            type_check=False,
        )  # fmt: skip
    return g


def test_deep_nesting_is_refused_clearly():
    with pytest.raises(ConversionError, match="max_depth=32"):
        spikekit.from_nir(_nested(250))
    assert spikekit.from_nir(_nested(5))(torch.ones(1, 3)).tolist() == [[1.0, 1.0, 1.0]]
    with pytest.raises(ConversionError, match="max_depth=2"):
        spikekit.from_nir(_nested(5), max_depth=2)


def test_deep_nesting_in_a_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "deep.nir"
    nir.write(path, _nested(40))
    with pytest.raises(ConversionError, match="max_depth") as info:
        spikekit.from_nir(path)
    assert str(path) in str(info.value)


def test_duplicate_edge_is_refused():
    g = affine_graph()
    first = next(e for e in g.edges if e[0] == "input")
    g.edges = [*g.edges, first]
    with pytest.raises(ConversionError, match="appears twice"):
        spikekit.from_nir(g)


def test_malformed_edges_and_nodes_are_refused():
    g = affine_graph()
    g.edges = [("input",)]
    with pytest.raises(ConversionError, match="field 'edges'"):
        spikekit.from_nir(g)
    g = affine_graph()
    g.nodes["bad"] = "not a node"
    g.edges = [*g.edges, ("input", "bad")]
    with pytest.raises(ConversionError, match="'bad' is a str, not a NIR node"):
        spikekit.from_nir(g)


# ----------------------------------------------------------------------------------------------- parameter values
def _neuron(kind: str, **changes):
    n = 3
    params = {
        "LIF": dict(tau=np.full(n, 4.0), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n)),
        "IF": dict(r=np.ones(n), v_threshold=np.ones(n)),
        "CubaLIF": dict(tau_mem=np.full(n, 4.0), tau_syn=np.full(n, 2.0), r=np.ones(n), v_leak=np.zeros(n),
                        v_threshold=np.ones(n), w_in=np.ones(n)),
        "LI": dict(tau=np.full(n, 4.0), r=np.ones(n), v_leak=np.zeros(n)),
    }[kind]  # fmt: skip
    params.update({k: np.full(n, v) for k, v in changes.items()})
    return nir.NIRGraph.from_list(getattr(nir, kind)(**params), type_check=False)


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("LIF", "v_threshold", 0.0),
        ("LIF", "v_threshold", -1.0),
        ("LIF", "v_threshold", np.nan),
        ("IF", "v_threshold", 0.0),
        ("IF", "r", np.nan),
        ("IF", "r", np.inf),
        ("LIF", "tau", 0.0),
        ("LIF", "tau", -2.0),
        ("LIF", "tau", np.nan),
        ("CubaLIF", "tau_syn", np.nan),
        ("CubaLIF", "w_in", np.inf),
        ("LI", "r", np.nan),
        ("LIF", "v_leak", np.nan),
    ],
)
def test_invalid_parameter_values_are_refused(kind, field, value):
    graph = _neuron(kind, **{field: value})
    with pytest.raises(ConversionError, match=rf"\({kind}\), field '{field}'"):
        spikekit.from_nir(graph, batch_size=1)


def test_infinite_time_constant_still_means_no_leak():
    graph = _neuron("CubaLIF", tau_mem=np.inf)
    model = spikekit.from_nir(graph, batch_size=1)
    assert model(torch.ones(4, 3)).shape == (4, 3)


def test_invalid_weights_are_refused():
    w = np.eye(2, dtype=np.float32)
    w[0, 1] = np.nan
    with pytest.raises(ConversionError, match=r"\(Affine\), field 'weight': contains NaN"):
        spikekit.from_nir(nir.NIRGraph.from_list(nir.Affine(w, np.zeros(2, dtype=np.float32))))
