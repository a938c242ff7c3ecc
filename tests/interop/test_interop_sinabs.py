"""spikekit <-> sinabs through NIR: same spikes on the same input (nox -s interop; skipped without sinabs)."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

sinabs = pytest.importorskip("sinabs")
sinabs_layers = pytest.importorskip("sinabs.layers")

import spikekit  # noqa: E402
import spikekit.layers as sl  # noqa: E402

B, T = 2, 8


def _sinabs_out(model, x):
    out = model(x)
    return out[0] if isinstance(out, tuple) else out  # sinabs's nirtorch executor returns (output, state)


def _spikekit_model():
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        sl.IAFSqueeze(batch_size=B, min_v_mem=-1.0),  # sinabs imports IF with min_v_mem = -threshold
        sl.SumPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 6),
        sl.LIFSqueeze(tau_mem=5.0, norm_input=False, batch_size=B),
        nn.Linear(6, 3),
        sl.ExpLeakSqueeze(tau_mem=3.0, batch_size=B),
    )


def test_spikekit_export_sinabs_import():
    torch.manual_seed(0)
    model = _spikekit_model()
    x = (torch.rand(B * T, 2, 8, 8) < 0.4).float() * 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = spikekit.to_nir(model, x)
    spikekit.reset_states(model)
    expected = model(x)
    theirs = sinabs.from_nir(graph, batch_size=B)
    assert torch.equal(_sinabs_out(theirs, x), expected)
    assert expected.abs().sum() > 0


def test_sinabs_export_spikekit_import():
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        sinabs_layers.IAFSqueeze(batch_size=B, min_v_mem=-1.0),
        sinabs_layers.SumPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 6),
        sinabs_layers.LIFSqueeze(tau_mem=5.0, norm_input=False, batch_size=B),
        nn.Linear(6, 3),
        sinabs_layers.ExpLeakSqueeze(tau_mem=3.0, batch_size=B),
    )
    x = (torch.rand(B * T, 2, 8, 8) < 0.4).float() * 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = sinabs.to_nir(model, x)
    sinabs.reset_states(model)
    expected = model(x)
    ours = spikekit.from_nir(graph, batch_size=B)
    assert torch.equal(ours(x), expected)
    assert expected.abs().sum() > 0
