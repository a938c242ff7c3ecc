"""spikekit <-> norse through NIR: same spikes on the same input (nox -s interop-norse; skipped without norse).

norse (1.1.0) steps its neurons with forward Euler at ``dt = 1e-3``, emits one spike per step (``v > v_th``) and
resets to ``v_reset``: spikekit's ``"norse"`` convention. What norse does differently from NIR, and how the tests
deal with it:

* norse's ``from_nir`` keeps NIR's batch-less ``Flatten(start_dim=0)``, so its graph would flatten the batch too;
  the imported norse graph is run one sample at a time, on NIR's batch-less shapes.
* norse's ``from_nir`` ignores ``r`` (it logs a warning when ``r != 1``) and has no importer for ``LI``, ``I``,
  ``AvgPool2d``, ``Conv1d``, ``Scale``, ``Threshold`` or ``Delay``: spikekit models sent to norse use
  ``norm_input=True`` (``r = 1`` under Euler) and none of those node types.
* norse's ``to_nir`` writes ``tau = dt / tau_mem_inv``, i.e. ``dt`` times the real time constant, so its own
  ``from_nir`` does not give back the model it exported. Its files are read exactly with ``dt = dt_norse ** 2``:
  then ``1 - dt / tau`` is norse's per-step decay ``1 - dt_norse * tau_mem_inv``.
* norse's ``IAFCell`` adds its input with gain ``r`` whatever ``dt`` (NIR's ``dv/dt = r I`` under Euler would be
  ``r dt``); the "norse" convention reads and writes leak-free nodes that way (``integrator_gain="r"``), so both
  directions agree.
* norse's ``LIFCell`` (exported as ``CubaLIF``) feeds the membrane the current of the previous step and adds the
  input to the current with gain 1, which is not NIR's ``CubaLIF``; pinned as a strict xfail.
* norse 1.1 cannot export its recurrent cells (``to_nir`` leaves an empty node), but it runs recurrent NIR graphs
  (through nirtorch, the recurrent edge zero at the first step): the recurrent tests write the graph with ``nir``
  by hand, with real time constants (read with norse's own ``dt``), and also run snnTorch's recurrent exports.
  nirtorch executes nodes in the order of the graph's edges and returns the last value computed, which is why
  spikekit writes the recurrent pair right after the neuron's inputs.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

norse = pytest.importorskip("norse.torch")

import spikekit  # noqa: E402
import spikekit.activation as sa  # noqa: E402
import spikekit.layers as sl  # noqa: E402

B, T = 2, 20
DT = 1e-3  # norse's default time step
NORSE_EXPORT_DT = DT**2  # reads norse's tau = dt * tau_true (see the module docstring)


def _nir_spiking(**kw):
    """Keyword arguments of a spikekit neuron that NIR states exactly under the "norse" convention."""
    return dict(spike_fn=sa.SingleSpike, reset_fn=sa.MembraneReset(), batch_size=B, **kw)


def _run_norse_graph(net, x_sq):
    """Step norse's imported graph (nirtorch executor) through time, one sample at a time: (B*T, ...) -> (B*T, ...)."""
    per_sample = []
    for sample in x_sq.reshape(B, T, *x_sq.shape[1:]):
        state = None
        outs = []
        for xt in sample:
            out, state = net(xt) if state is None else net(xt, state)
            outs.append(out)
        per_sample.append(torch.stack(outs))
    return torch.stack(per_sample).reshape(B * T, *per_sample[0].shape[1:])


def _run_norse_model(net, x_btn):
    """Step a norse SequentialState through time: (B, T, ...) -> (B*T, ...)."""
    state = None
    outs = []
    for t in range(x_btn.shape[1]):
        out, state = net(x_btn[:, t], state)
        outs.append(out)
    out = torch.stack(outs, 1)
    return out.reshape(B * T, *out.shape[2:])


def _spikekit_model():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        sl.IAFSqueeze(**_nir_spiking()),
        sl.SumPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 6),
        sl.LIFSqueeze(tau_mem=5.0, norm_input=True, **_nir_spiking()),
        nn.Linear(6, 3, bias=False),
        sl.LIFSqueeze(tau_mem=4.0, tau_syn=3.0, norm_input=True, **_nir_spiking()),
    )
    with torch.no_grad():  # strong enough weights that every spiking layer fires
        model[4].weight.mul_(8)
        model[4].bias.add_(1.0)
        model[6].weight.mul_(3).add_(2.0)
    return model


@pytest.mark.parametrize(
    ("upto", "last"), [(2, "IF"), (6, "LIF"), (8, "CubaLIF")], ids=["to-IF", "to-LIF", "to-CubaLIF"]
)
def test_spikekit_export_norse_import(upto, last):
    """Conv2d, IF, SumPool2d, Flatten, Affine, LIF, Linear, CubaLIF: spikes of the layer ``last`` compared."""
    model = _spikekit_model()[:upto]
    torch.manual_seed(2)
    x = (torch.rand(B * T, 2, 8, 8) < 0.4).float() * 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is left to metadata: NIR states every node exactly
        graph = spikekit.to_nir(model, x, convention="norse")
    assert type(graph.nodes[str(upto - 1)]).__name__ == last
    spikekit.reset_states(model)
    expected = model(x)
    theirs = norse.from_nir(graph, ignore_warnings=True)  # IF: r = 1/dt, which norse ignores (gain 1, as ours)
    got = _run_norse_graph(theirs, x)
    assert got.shape == expected.shape
    assert torch.equal(got, expected.detach())
    assert expected.sum() > 10


def _norse_lif_li():
    torch.manual_seed(1)
    return [
        nn.Linear(4, 6),
        norse.LIFBoxCell(
            norse.LIFBoxParameters(
                tau_mem_inv=torch.linspace(100.0, 300.0, 6), v_th=torch.full((6,), 0.3), v_leak=torch.zeros(6)
            )
        ),
        nn.Linear(6, 4),
        norse.LIBoxCell(norse.LIBoxParameters(tau_mem_inv=torch.full((4,), 150.0), v_leak=torch.zeros(4))),
    ]  # per-neuron parameters: nir rejects norse's nodes when v_leak is a scalar and the rest are not


@pytest.mark.parametrize(("upto", "last"), [(2, "LIF"), (4, "LI")], ids=["to-LIF", "to-LI"])
def test_norse_export_spikekit_import(upto, last):
    """Affine, LIF (spikes compared exactly) and LI (membrane trace compared to float precision)."""
    net = norse.SequentialState(*_norse_lif_li()[:upto])
    torch.manual_seed(3)
    x = torch.rand(B, T, 4) * 3
    graph = norse.to_nir(net, x[:, 0])
    assert type(graph.nodes[str(upto - 1)]).__name__ == last
    expected = _run_norse_model(net, x).detach()
    ours = spikekit.from_nir(graph, batch_size=B, convention="norse", dt=NORSE_EXPORT_DT)
    got = ours(x.reshape(B * T, 4)).detach()
    if last == "LIF":
        assert torch.equal(got, expected)
        assert expected.sum() > 10
    else:
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
        assert expected.abs().max() > 0.1


def test_norse_export_is_not_its_own_import():
    """Why spikekit reads norse's files with dt**2: norse's from_nir(to_nir(m)) does not reproduce m."""
    net = norse.SequentialState(*_norse_lif_li())
    torch.manual_seed(3)
    x = torch.rand(B, T, 4) * 3
    expected = _run_norse_model(net, x).detach()
    graph = norse.to_nir(net, x[:, 0])
    assert torch.allclose(torch.as_tensor(graph.nodes["1"].tau), DT / torch.linspace(100.0, 300.0, 6))
    state = None
    outs = []
    again = norse.from_nir(graph, ignore_warnings=True)
    for t in range(T):
        out, state = again(x[:, t]) if state is None else again(x[:, t], state)
        outs.append(out)
    roundtrip = torch.stack(outs, 1).reshape(B * T, -1).detach()
    assert not torch.allclose(roundtrip, expected, atol=1e-3)


def test_norse_if_export_spikekit_import():
    torch.manual_seed(4)
    net = norse.SequentialState(nn.Linear(4, 5), norse.IAFCell(norse.IAFParameters(v_th=torch.full((5,), 0.8))))
    x = torch.rand(B, T, 4) * 3
    graph = norse.to_nir(net, x[:, 0])
    expected = _run_norse_model(net, x).detach()
    assert expected.sum() > 10
    ours = spikekit.from_nir(graph, batch_size=B, convention="norse", dt=NORSE_EXPORT_DT)
    assert torch.equal(ours(x.reshape(B * T, 4)).detach(), expected)


@pytest.mark.xfail(strict=True, reason="norse's LIFCell uses the previous step's current and adds input with gain 1")
def test_norse_cubalif_export_spikekit_import():
    torch.manual_seed(5)
    cell = norse.LIFCell(
        norse.LIFParameters(
            tau_syn_inv=torch.full((5,), 200.0), tau_mem_inv=torch.full((5,), 100.0),
            v_th=torch.full((5,), 0.3), v_leak=torch.zeros(5),
        )
    )  # fmt: skip
    net = norse.SequentialState(nn.Linear(4, 5), cell)
    x = torch.rand(B, T, 4) * 3
    graph = norse.to_nir(net, x[:, 0])
    assert type(graph.nodes["1"]).__name__ == "CubaLIF"
    expected = _run_norse_model(net, x).detach()
    assert expected.sum() > 10
    ours = spikekit.from_nir(graph, batch_size=B, convention="norse", dt=NORSE_EXPORT_DT)
    assert torch.equal(ours(x.reshape(B * T, 4)).detach(), expected)


# ------------------------------------------------------------------------------------------------ recurrent
N_REC = 4


def _run_norse_cyclic(net, x_sq):
    """Step norse's graph of a cyclic NIR graph, one sample at a time with a batch dim of 1: (B*T, N) -> (B*T, M).

    (On batch-less input, nirtorch's executor returns the weight node's value of a cycle instead of the output.)
    """
    per_sample = []
    for sample in x_sq.reshape(B, T, *x_sq.shape[1:]):
        state = None
        outs = []
        for xt in sample:
            out, state = net(xt[None]) if state is None else net(xt[None], state)
            outs.append(out[0])
        per_sample.append(torch.stack(outs))
    return torch.stack(per_sample).reshape(B * T, *per_sample[0].shape[1:])


def _recurrent_graph(kind: str, bias: bool):
    """Affine -> neuron <-> Affine/Linear, written flat with ``nir`` the way nirtorch and norse run cycles, with real
    time constants (seconds) as NIR states them."""
    import nir
    import numpy as np

    n = N_REC
    rng = np.random.default_rng(0)
    w_in = rng.uniform(0, 1.5, (n, 3)).astype(np.float32)
    w_rec = rng.uniform(-0.6, 0.6, (n, n)).astype(np.float32)
    np.fill_diagonal(w_rec, 0)
    common = dict(v_leak=np.zeros(n), v_threshold=np.full(n, 0.3), v_reset=np.zeros(n))
    if kind == "CubaLIF":
        neuron = nir.CubaLIF(tau_syn=np.full(n, 5e-3), tau_mem=np.full(n, 1e-2), r=np.ones(n), w_in=np.ones(n),
                             **common)  # fmt: skip
    else:
        neuron = nir.LIF(tau=np.full(n, 1e-2), r=np.ones(n), **common)
    rec = nir.Affine(w_rec, np.full(n, 0.1, dtype=np.float32)) if bias else nir.Linear(w_rec)
    return nir.NIRGraph(
        nodes={"input": nir.Input(np.array([3])), "fc": nir.Affine(w_in, np.zeros(n, np.float32)), "lif": neuron,
               "rec": rec, "output": nir.Output(np.array([n]))},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")],
        type_check=False,
    )  # fmt: skip


@pytest.mark.parametrize("bias", [False, True], ids=["Linear", "Affine"])
@pytest.mark.parametrize("kind", ["LIF", "CubaLIF"])
def test_recurrent_graph_runs_as_norse_runs_it_and_round_trips(kind, bias, tmp_path):
    """The recurrent edge carries the previous step's spikes (zero at the first step); real time constants are
    read with norse's own dt. spikekit's re-export (same flat pattern) runs identically in norse and in spikekit."""
    graph = _recurrent_graph(kind, bias)
    torch.manual_seed(6)
    x = torch.rand(B, T, 3) * 4
    x_sq = x.reshape(B * T, 3)
    expected = _run_norse_cyclic(norse.from_nir(graph, ignore_warnings=True), x_sq).detach()
    assert expected.sum() > 10
    ours = spikekit.from_nir(graph, batch_size=B, convention="norse", dt=DT)
    assert torch.equal(ours(x_sq).detach(), expected)
    spikekit.reset_states(ours)
    again = spikekit.to_nir(ours, x_sq, convention="norse", dt=DT, path=tmp_path / "again.nir")
    assert sorted(again.edges) == sorted(graph.edges)
    back = spikekit.from_nir(tmp_path / "again.nir", batch_size=B, convention="norse", dt=DT)
    assert torch.equal(back(x_sq).detach(), expected)
    theirs_again = norse.from_nir(spikekit.nir.load(tmp_path / "again.nir"), ignore_warnings=True)
    assert torch.equal(_run_norse_cyclic(theirs_again, x_sq).detach(), expected)


def _spikekit_recurrent(kind: str):
    torch.manual_seed(8)
    rec = nn.Linear(N_REC, N_REC, bias=kind != "LIF")
    single = dict(spike_fn=sa.SingleSpike, reset_fn=sa.MembraneReset())
    layer = {
        "LIF": lambda: sl.LIFRecurrent(tau_mem=6.0, rec_connect=rec, norm_input=True, **single),
        "LIF-syn": lambda: sl.LIFRecurrent(tau_mem=6.0, rec_connect=rec, tau_syn=3.0, norm_input=True, **single),
        "IAF": lambda: sl.IAFRecurrent(rec, spike_threshold=2.0, **single),
    }[kind]()
    model = nn.Sequential(nn.Linear(3, N_REC), layer)
    with torch.no_grad():
        model[0].weight.abs_().mul_(2)
    return model


@pytest.mark.parametrize("kind", ["LIF", "LIF-syn", "IAF"])
def test_spikekit_recurrent_layers_export_norse_import(kind, tmp_path):
    """LIFRecurrent (with and without synapse) and IAFRecurrent, written flat, run in norse as in spikekit, and
    come back through a file identically. (ALIFRecurrent has no NIR node.)"""
    model = _spikekit_recurrent(kind)
    torch.manual_seed(9)
    x = torch.rand(B, T, 3) * 2
    with torch.no_grad():
        expected = model(x).reshape(B * T, N_REC)
        assert expected.sum() > 10
        spikekit.reset_states(model)
        graph = spikekit.to_nir(model, x, convention="norse", path=tmp_path / "rec.nir")
    theirs = norse.from_nir(graph, ignore_warnings=True)
    assert torch.equal(_run_norse_cyclic(theirs, x.reshape(B * T, 3)).detach(), expected)
    back = spikekit.from_nir(tmp_path / "rec.nir", batch_size=B, convention="norse")
    assert torch.equal(back(x.reshape(B * T, 3)).detach(), expected)


@pytest.mark.parametrize("kind", ["RSynaptic", "RLeaky"])
def test_snntorch_recurrent_graph_runs_in_spikekit_as_in_norse(kind, tmp_path):
    """A recurrent CubaLIF / LIF network written by snnTorch 1.0: spikekit ("snntorch" convention) equals norse;
    exported again, through a file, it gives the same spikes in spikekit and in norse."""
    import numpy as np

    snn = pytest.importorskip("snntorch")
    snn_export = pytest.importorskip("snntorch.export_nir")
    torch.manual_seed(7)
    neuron = (
        snn.RSynaptic(alpha=0.5, beta=0.8, linear_features=5, init_hidden=True, reset_mechanism="zero")
        if kind == "RSynaptic"
        else snn.RLeaky(beta=0.8, linear_features=5, init_hidden=True, reset_mechanism="zero")
    )
    net = nn.Sequential(nn.Linear(3, 5), neuron)
    with torch.no_grad():
        net[0].weight.abs_()
    x = torch.rand(B, T, 3) * 4
    graph = snn_export.export_to_nir(net, x[:, 0], ignore_dims=[0])
    x_sq = x.reshape(B * T, 3)
    expected = _run_norse_cyclic(norse.from_nir(graph, ignore_warnings=True, dt=1e-4), x_sq).detach()
    assert expected.sum() > 10
    if kind == "RLeaky":
        # snnTorch writes LIF with r = tau/dt; norse's LIF ignores r (reads 1), so it runs the graph with r = 1
        graph.nodes["1.lif"].r = np.ones_like(graph.nodes["1.lif"].r)
    ours = spikekit.from_nir(graph, batch_size=B, convention="snntorch")
    assert torch.equal(ours(x_sq).detach(), expected)
    spikekit.reset_states(ours)
    again = spikekit.to_nir(ours, x_sq, convention="snntorch", path=tmp_path / "again.nir")
    assert sorted(again.edges) == sorted(graph.edges)
    back = spikekit.from_nir(tmp_path / "again.nir", batch_size=B, convention="snntorch")
    assert torch.equal(back(x_sq).detach(), expected)
    theirs_again = norse.from_nir(spikekit.nir.load(tmp_path / "again.nir"), ignore_warnings=True, dt=1e-4)
    assert torch.equal(_run_norse_cyclic(theirs_again, x_sq).detach(), expected)
