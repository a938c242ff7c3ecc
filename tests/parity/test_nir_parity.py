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
