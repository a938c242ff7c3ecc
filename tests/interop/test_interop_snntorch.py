"""spikekit <-> snntorch through NIR: same spikes on the same input (nox -s interop; skipped without snntorch).

snntorch discretises with forward Euler at dt = 1e-4 (``beta = 1 - dt/tau``, ``r = tau/dt`` for unit gain), emits
one spike per step and resets to zero: spikekit's ``"snntorch"`` convention. Its IF importer uses ``beta=0.9`` (a
leak), so IF is not compared; per-neuron thresholds are not supported by its importer either.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

snn = pytest.importorskip("snntorch")
snn_export = pytest.importorskip("snntorch.export_nir")
snn_import = pytest.importorskip("snntorch.import_nir")

import spikekit  # noqa: E402
import spikekit.activation as sa  # noqa: E402
import spikekit.layers as sl  # noqa: E402

B, T = 2, 10


def _run_snntorch(net, x_seq):
    """Step an snntorch graph (nirtorch executor) through time: x_seq (T, B, N) -> spikes (T, B, M)."""
    state = None
    outs = []
    for xt in x_seq:
        out, state = net(xt, state) if state is not None else net(xt)
        outs.append(out)
    return torch.stack(outs)


def _to_squeezed(x_tbn):
    return x_tbn.transpose(0, 1).reshape(B * T, *x_tbn.shape[2:])  # (T, B, N) -> (B*T, N)


def _from_squeezed(y):
    return y.reshape(B, T, *y.shape[1:]).transpose(0, 1)  # (B*T, N) -> (T, B, N)


def test_spikekit_export_snntorch_import():
    torch.manual_seed(0)
    beta = 0.8
    model = nn.Sequential(
        nn.Linear(4, 5),
        sl.LIFSqueeze(tau_mem=-1 / torch.log(torch.tensor(beta)), norm_input=False, spike_fn=sa.SingleSpike,
                      reset_fn=sa.MembraneReset(), batch_size=B),
        nn.Linear(5, 3),
        sl.LIFSqueeze(tau_mem=4.0, norm_input=False, spike_fn=sa.SingleSpike, reset_fn=sa.MembraneReset(),
                      batch_size=B),
    )  # fmt: skip
    x = torch.rand(T, B, 4) * 2
    graph = spikekit.to_nir(model, _to_squeezed(x), convention="snntorch")
    spikekit.reset_states(model)
    expected = _from_squeezed(model(_to_squeezed(x)))
    theirs = snn_import.import_from_nir(graph)
    got = _run_snntorch(theirs, x)
    assert torch.equal(got, expected)
    assert expected.sum() > 0


def test_snntorch_export_spikekit_import():
    torch.manual_seed(1)
    # per-neuron parameters: snntorch's exporter builds shape-less NIR nodes from scalars, which nir rejects
    net = nn.Sequential(
        nn.Linear(4, 5),
        snn.Leaky(beta=torch.full((5,), 0.8), threshold=torch.ones(5), reset_mechanism="zero", init_hidden=True, reset_delay=False),
        nn.Linear(5, 3),
        snn.Synaptic(alpha=torch.full((3,), 0.5), beta=torch.full((3,), 0.9), threshold=torch.full((3,), 0.7), reset_mechanism="zero", init_hidden=True,
                     reset_delay=False),
    )  # fmt: skip
    x = torch.rand(T, B, 4) * 2
    graph = snn_export.export_to_nir(net, x[0], ignore_dims=[0])
    # reference: step snntorch's own modules through time
    for m in net:
        if hasattr(m, "reset_hidden"):
            m.reset_hidden()
    ref = []
    for xt in x:
        h = xt
        for m in net:
            h = m(h)
            h = h[0] if isinstance(h, tuple) else h
        ref.append(h)
    expected = torch.stack(ref)
    ours = spikekit.from_nir(graph, batch_size=B, convention="snntorch")
    got = _from_squeezed(ours(_to_squeezed(x)))
    assert torch.equal(got, expected)
    assert expected.sum() > 0


# ------------------------------------------------------------------------------------------------ recurrent
def _snntorch_recurrent(kind: str):
    """Linear -> RSynaptic / RLeaky (all-to-all recurrent weights, reset to zero), as snnTorch 1.0 exports them."""
    torch.manual_seed(7)
    n = 5
    neuron = (
        snn.RSynaptic(alpha=0.5, beta=0.8, linear_features=n, init_hidden=True, reset_mechanism="zero")
        if kind == "RSynaptic"
        else snn.RLeaky(beta=0.8, linear_features=n, init_hidden=True, reset_mechanism="zero")
    )
    return nn.Sequential(nn.Linear(3, n), neuron)


@pytest.mark.parametrize("kind", ["RSynaptic", "RLeaky"])
def test_snntorch_recurrent_export_runs_as_nir_says_and_round_trips(kind, tmp_path, nir_reference):
    """snnTorch writes the recurrent pattern flat (``1.lif`` <-> ``1.w_rec``); spikekit runs it with the recurrent
    edge carrying the previous step's spikes (zero at the first step), equal to NIR's equations stepped
    independently (nir_reference); then export -> file -> import gives the same spikes."""
    run_nir = nir_reference.run
    net = _snntorch_recurrent(kind)
    x = torch.rand(T, B, 3) * 2
    graph = snn_export.export_to_nir(net, x[0], ignore_dims=[0])
    assert ("1.lif", "1.w_rec") in graph.edges and ("1.w_rec", "1.lif") in graph.edges
    ours = spikekit.from_nir(graph, batch_size=B, convention="snntorch")
    got = _from_squeezed(ours(_to_squeezed(x))).detach()
    expected = run_nir(graph, ["0", "1.lif", "1.w_rec"], x.transpose(0, 1).numpy(), dt=1e-4)
    assert torch.equal(got.transpose(0, 1), torch.from_numpy(expected).float())
    assert expected.sum() > 10
    spikekit.reset_states(ours)
    again = spikekit.to_nir(ours, _to_squeezed(x), convention="snntorch", path=tmp_path / "again.nir")
    assert sorted(again.edges) == sorted(graph.edges)  # the same flat pattern, under the same names
    back = spikekit.from_nir(tmp_path / "again.nir", batch_size=B, convention="snntorch")
    assert torch.equal(_from_squeezed(back(_to_squeezed(x))).detach(), got)


@pytest.mark.parametrize("kind", ["RSynaptic", "RLeaky"])
def test_snntorch_runs_its_own_recurrent_layers_differently(kind, nir_reference):
    """Why the conventions table gives snnTorch's recurrent runtime no exact row: snnTorch 1.0 adds the recurrent
    bias at the first step (``recurrent(0) = bias``) and, with its default ``reset_delay=True``, resets a spiking
    neuron one step late; ``reset_delay=False`` fails in 1.0 (``spk`` is None)."""
    run_nir = nir_reference.run
    net = _snntorch_recurrent(kind)
    x = torch.rand(T, B, 3) * 2
    graph = snn_export.export_to_nir(net, x[0], ignore_dims=[0])
    net[1].reset_hidden()
    theirs = torch.stack([net(xt) for xt in x]).detach()
    nir_says = torch.from_numpy(run_nir(graph, ["0", "1.lif", "1.w_rec"], x.transpose(0, 1).numpy(), dt=1e-4))
    assert not torch.equal(theirs, nir_says.transpose(0, 1).float())
