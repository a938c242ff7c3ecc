"""Files saved legitimately load under safe loading and compute what the saved model computes: state dicts
(whose OrderedDict carries ``_metadata``), models saved by sinabs 3.1.3 (when installed) and NIR-imported graph
modules (whose nodes are dict keys)."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
import torch
from torch import nn

import spikekit.layers as sl
import spikekit.utils as su


def _saved(obj, how: str) -> bytes:
    if how == "pickle":
        return pickle.dumps(obj, protocol=4)
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=how == "zip")
    return buf.getvalue()


@pytest.mark.parametrize("how", ["pickle", "zip", "legacy"])
def test_a_state_dict_loads_with_its_metadata(how):
    model = nn.Sequential(nn.Linear(3, 4), sl.LIFRecurrent(tau_mem=10.0, rec_connect=nn.Linear(4, 4)))
    state = model.state_dict()
    loaded = su.load_sinabs_model(io.BytesIO(_saved(state, how)))
    assert list(loaded) == list(state)
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    assert loaded._metadata == state._metadata  # load_state_dict reads the versions from here
    fresh = nn.Sequential(nn.Linear(3, 4), sl.LIFRecurrent(tau_mem=10.0, rec_connect=nn.Linear(4, 4)))
    fresh.load_state_dict(loaded)


@pytest.mark.parametrize(
    "state",
    [{"_metadata": "x"}, {"_metadata": {"": {"version": [1]}}}, {"other": 1}, {"_metadata": {1: {}}}],
)
def test_an_ordered_dict_state_other_than_metadata_is_refused(state):
    from spikekit_convert.safe_unpickler import UnsafePickleError

    # an OrderedDict as a state_dict pickles it, its BUILD state replaced by ``state``
    body = pickle.dumps(state, protocol=2)[2:-1]
    data = b"\x80\x02ccollections\nOrderedDict\n)R" + body + b"b."
    with pytest.raises(UnsafePickleError, match="BUILD of an OrderedDict"):
        su.load_sinabs_model(io.BytesIO(data))


@pytest.mark.parametrize("how", ["pickle", "zip", "legacy"])
def test_sinabs_models_and_state_dicts_load(how):
    sinabs_layers = pytest.importorskip("sinabs.layers")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), sinabs_layers.IAFRecurrent(rec_connect=nn.Linear(4, 4)))
    x = torch.rand(2, 5, 3)
    data = _saved(model, how)
    expected = model(x)
    loaded = su.load_sinabs_model(io.BytesIO(data))
    assert type(loaded[1]) is sl.IAFRecurrent
    torch.testing.assert_close(loaded(x), expected)
    state = su.load_sinabs_model(io.BytesIO(_saved(model.state_dict(), how)))
    assert state._metadata == model.state_dict()._metadata


@pytest.mark.parametrize("how", ["pickle", "zip", "legacy"])
def test_a_nir_imported_graph_module_loads(tmp_path, how):
    nir = pytest.importorskip("nir")
    import spikekit.nir as snir

    rng = np.random.default_rng(0)
    graph = nir.NIRGraph.from_list(
        nir.Affine(rng.random((3, 3)).astype(np.float32), rng.random(3).astype(np.float32)),
        nir.IF(r=np.ones(3, dtype=np.float32), v_threshold=np.full(3, 0.5, dtype=np.float32)),
    )
    nir.write(tmp_path / "g.nir", graph)
    module = snir.from_nir(tmp_path / "g.nir", batch_size=1)
    x = torch.rand(4, 3)
    data = _saved(module, how)
    expected = module(x)
    loaded = su.load_sinabs_model(io.BytesIO(data))
    torch.testing.assert_close(loaded(x), expected)
