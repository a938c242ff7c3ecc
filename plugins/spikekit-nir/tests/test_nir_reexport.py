"""Graphs written elsewhere: import -> export -> nir.write -> nir.read -> import gives identical outputs, and the
graph keeps its node names and edges (the graphs the other NIR tests import by hand, one of each kind)."""

from __future__ import annotations

import warnings

import nir
import numpy as np
import pytest
import torch

import spikekit
from spikekit_nir import from_nir, load, save, to_nir

B, T = 2, 12


def _named_io():
    w = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    return nir.NIRGraph(
        nodes={"x": nir.Input({"input": np.array([2])}), "block.lin": nir.Linear(w),
               "block.act": nir.IF(r=np.ones(2), v_threshold=np.ones(2)), "y": nir.Output({"output": np.array([2])})},
        edges=[("x", "block.lin"), ("block.lin", "block.act"), ("block.act", "y")], type_check=False,
    )  # fmt: skip


def _single(node):
    return nir.NIRGraph.from_list(node)


def _flat_recurrent():
    n = 3
    cuba = nir.CubaLIF(tau_syn=np.full(n, 2e-3), tau_mem=np.full(n, 5e-3), r=np.full(n, 5.0), v_leak=np.full(n, 0.1),
                       v_threshold=np.ones(n), v_reset=np.zeros(n), w_in=np.full(n, 2.0))  # fmt: skip
    return nir.NIRGraph(
        nodes={"input": nir.Input(np.array([n])), "fc": nir.Affine(np.eye(n), np.zeros(n)), "lif": cuba,
               "rec": nir.Affine(np.array([[0, -0.5, 0.3], [0.4, 0, 0], [-0.2, 0.6, 0]]), np.full(n, 0.05)),
               "output": nir.Output(np.array([n]))},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")], type_check=False,
    )  # fmt: skip


CASES = {
    "named-io-dotted": (_named_io, "sinabs"),
    "lif-sinabs": (
        lambda: _single(nir.LIF(tau=np.full(2, 2.0), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))),
        "sinabs",
    ),
    "cubalif-snntorch": (
        lambda: _single(
            nir.CubaLIF(
                tau_syn=np.full(2, 2e-4),
                tau_mem=np.full(2, 5e-4),
                r=np.full(2, 5.0),
                v_leak=np.zeros(2),
                v_threshold=np.ones(2),
                w_in=np.full(2, 2.0),
            )
        ),
        "snntorch",
    ),
    "li-rest-norse": (
        lambda: _single(nir.LI(tau=np.full(2, 4e-3), r=np.full(2, 0.7), v_leak=np.array([0.3, -0.2]))),
        "norse",
    ),
    "recurrent-rest-norse": (_flat_recurrent, "norse"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_imported_graph_reexports_identically(case, tmp_path):
    make, convention = CASES[case]
    graph = make()
    width = int(np.asarray(next(v for v in graph.nodes.values() if isinstance(v, nir.Input)).input_type["input"])[-1])
    x = torch.rand(B * T, width) * 3
    first = from_nir(graph, batch_size=B, convention=convention)
    expected = first(x).detach()
    assert expected.abs().sum() > 0
    spikekit.reset_states(first)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = to_nir(first, x, convention=convention)
    assert sorted(again.nodes) == sorted(graph.nodes) and sorted(again.edges) == sorted(graph.edges)
    save(again, tmp_path / "again.nir")
    third = from_nir(load(tmp_path / "again.nir"), batch_size=B, convention=convention)
    assert torch.equal(third(x).detach(), expected)
