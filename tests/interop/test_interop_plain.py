"""The "plain NIR file" row of the conventions table: a graph written with ``nir`` alone (as a hardware toolchain
writes it), real time constants, resting potentials, a recurrent pair, read with an Euler preset at the file's dt
and compared with NIR's equations stepped independently (``nir_reference``)."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch

import spikekit

B, T, N, DT = 2, 40, 4, 1e-3


def _graph() -> nir.NIRGraph:
    rng = np.random.default_rng(4)
    w_rec = rng.uniform(-0.5, 0.5, (N, N))
    np.fill_diagonal(w_rec, 0)
    cuba = nir.CubaLIF(
        tau_syn=np.full(N, 4e-3), tau_mem=np.linspace(8e-3, 2e-2, N), r=np.full(N, 1.5), w_in=np.full(N, 2.0),
        v_leak=np.array([0.2, -0.1, 0.0, 0.3]), v_threshold=np.full(N, 0.8), v_reset=np.full(N, -0.1),
    )  # fmt: skip
    li = nir.LI(tau=np.full(2, 5e-3), r=np.full(2, 0.5), v_leak=np.array([0.4, -0.2]))
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([3])), "fc": nir.Affine(rng.uniform(0, 1, (N, 3)), np.zeros(N)),
            "cuba": cuba, "rec": nir.Linear(w_rec), "readout": nir.Affine(rng.uniform(-1, 1, (2, N)), np.zeros(2)),
            "li": li, "output": nir.Output(np.array([2])),
        },
        edges=[("input", "fc"), ("fc", "cuba"), ("cuba", "rec"), ("rec", "cuba"), ("cuba", "readout"),
               ("readout", "li"), ("li", "output")],
        type_check=False,
    )  # fmt: skip


@pytest.mark.parametrize("preset", ["snntorch", "norse"])
def test_a_plain_nir_file_reads_exactly_with_an_euler_preset_at_its_dt(preset, tmp_path, nir_reference):
    graph = _graph()
    nir.write(tmp_path / "plain.nir", graph)
    x = torch.rand(B, T, 3) * 3
    model = spikekit.from_nir(tmp_path / "plain.nir", batch_size=B, convention=preset, dt=DT)
    got = model(x.reshape(B * T, 3)).detach().double().reshape(B, T, 2).numpy()
    expected = nir_reference.run(graph, ["fc", "cuba", "rec", "readout", "li"], x.double().numpy(), dt=DT)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    spikes = nir_reference.run(
        nir.NIRGraph(nodes={**graph.nodes, "output": nir.Output(np.array([N]))},
                     edges=[*graph.edges[:4], ("cuba", "output")], type_check=False),
        ["fc", "cuba", "rec"], x.double().numpy(), dt=DT,
    )  # fmt: skip
    assert 0 < spikes.sum() < spikes.size  # the recurrent neurons do spike, and not always
