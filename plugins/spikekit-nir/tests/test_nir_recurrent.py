"""Recurrent NIR graphs: neuron -> Affine/Linear -> same neuron, to and from LIFRecurrent / IAFRecurrent."""

from __future__ import annotations

import itertools
import time
import warnings

import nir
import numpy as np
import pytest
import torch
from torch import nn

import spikekit
import spikekit.activation as sa
import spikekit.layers as sl
from spikekit_nir import ConversionError, RecurrentNode, from_nir, load, save, to_nir

B, T, N = 2, 25, 4


def _rec(bias: bool) -> nn.Module:
    torch.manual_seed(3)
    return nn.Linear(N, N, bias=bias)


def _layers():
    thr = torch.linspace(0.6, 1.2, N)
    yield "LIF", lambda: sl.LIFRecurrent(tau_mem=6.0, rec_connect=_rec(False), norm_input=False)
    yield "LIF-syn", lambda: sl.LIFRecurrent(tau_mem=8.0, rec_connect=_rec(True), tau_syn=3.0, spike_threshold=thr)
    yield "IAF", lambda: sl.IAFRecurrent(_rec(True), spike_fn=sa.SingleSpike, reset_fn=sa.MembraneReset())
    yield "IAF-syn", lambda: sl.IAFRecurrent(nn.Sequential(nn.Flatten(), _rec(False)), tau_syn=2.0)
    yield "ALIF", lambda: sl.ALIFRecurrent(tau_mem=6.0, tau_adapt=15.0, rec_connect=_rec(True), adapt_scale=0.4)
    yield (
        "ALIF-syn",
        lambda: sl.ALIFRecurrent(
            tau_mem=8.0,
            tau_adapt=torch.linspace(10, 30, N),
            rec_connect=_rec(False),
            tau_syn=2.0,
            spike_threshold=thr,
            spike_fn=sa.MultiSpike,
            norm_input=False,
        ),
    )


def _by_hand(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The layer's equations stepped here: x_t + rec_connect(S_{t-1}) into the feed-forward layer, S_{-1} = 0."""
    kwargs = dict(tau_syn=layer.tau_syn, spike_fn=layer.spike_fn, reset_fn=layer.reset_fn, min_v_mem=layer.min_v_mem)
    if isinstance(layer, sl.ALIFRecurrent):
        ff = sl.ALIF
        kwargs.update(tau_mem=layer.tau_mem, tau_adapt=layer.tau_adapt, adapt_scale=layer.adapt_scale,
                      spike_threshold=layer.b0, norm_input=layer.norm_input)  # fmt: skip
    elif isinstance(layer, sl.IAFRecurrent):
        ff = sl.IAF
        kwargs.update(spike_threshold=layer.spike_threshold)
    else:
        ff = sl.LIF
        kwargs.update(tau_mem=layer.tau_mem, norm_input=layer.norm_input, spike_threshold=layer.spike_threshold)
    step = ff(**kwargs)
    drive = torch.zeros(x.shape[0], N)  # the recurrent edge carries nothing at the first step (not the bias)
    outs = []
    for t in range(x.shape[1]):
        spikes = step((x[:, t] + drive).unsqueeze(1))[:, 0]
        drive = layer.rec_connect(spikes).reshape(x.shape[0], N)
        outs.append(spikes)
    return torch.stack(outs, 1)


@pytest.mark.parametrize("convention", ["sinabs", "snntorch", "norse"])
@pytest.mark.parametrize("case", list(_layers()), ids=lambda c: c[0])
def test_recurrent_layers_export_import_and_file_round_trip(case, convention, tmp_path):
    _, make = case
    model = nn.Sequential(nn.Linear(3, N), make())
    x = torch.rand(B, T, 3) * 6
    with torch.no_grad():
        expected = model(x)
        assert torch.equal(expected, _by_hand(model[1], model[0](x)))
        assert expected.sum() > 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = to_nir(model, x, convention=convention)
        assert ("1.neuron", "1.w_rec") in graph.edges and ("1.w_rec", "1.neuron") in graph.edges  # flat, as snnTorch
        assert ("0", "1.neuron") in graph.edges and ("1.neuron", "output") in graph.edges
        back = from_nir(graph, batch_size=B, convention=convention)
        assert isinstance(back.get_node("1.neuron"), RecurrentNode)
        assert type(back.get_node("1.neuron").neuron) is type(model[1])  # ALIFRecurrent too, from the metadata
        got = back(x.flatten(0, 1)).unflatten(0, (B, T))
        close = torch.equal if convention == "sinabs" else lambda a, b: torch.allclose(a, b, atol=1e-6)
        assert close(got, expected)
        save(graph, tmp_path / "rec.nir")
        from_file = from_nir(tmp_path / "rec.nir", batch_size=B, convention=convention)
        assert torch.equal(from_file(x.flatten(0, 1)).unflatten(0, (B, T)), got)
        again = to_nir(back, x.flatten(0, 1), convention=convention)
        assert sorted(again.nodes) == sorted(graph.nodes) and sorted(again.edges) == sorted(graph.edges)
        save(again, tmp_path / "again.nir")
        third = from_nir(load(tmp_path / "again.nir"), batch_size=B, convention=convention)
        assert torch.equal(third(x.flatten(0, 1)).unflatten(0, (B, T)), got)


def _flat_recurrent_graph(w_rec: np.ndarray) -> nir.NIRGraph:
    """The pattern written flat into the top graph (as snnTorch flattens RSynaptic into its parent)."""
    n = w_rec.shape[0]
    cuba = nir.CubaLIF(tau_syn=np.full(n, 2e-3), tau_mem=np.full(n, 5e-3), r=np.full(n, 5.0), v_leak=np.zeros(n),
                       v_threshold=np.ones(n), v_reset=np.zeros(n), w_in=np.full(n, 2.0))  # fmt: skip
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([n])}), "fc": nir.Affine(np.eye(n), np.zeros(n)),
               "lif": cuba, "rec": nir.Linear(w_rec), "output": nir.Output(output_type={"output": np.array([n])})},
        edges=[("rec", "lif"), ("input", "fc"), ("lif", "rec"), ("fc", "lif"), ("lif", "output")],
        type_check=False,
    )  # fmt: skip


def test_a_flat_recurrent_cubalif_follows_nir_equations():
    n, dt = 3, 1e-3
    w_rec = np.array([[0.0, -0.5, 0.3], [0.4, 0.0, 0.0], [-0.2, 0.6, 0.0]])
    graph = _flat_recurrent_graph(w_rec)
    x = torch.rand(1, 30, n) * 2
    model = from_nir(graph, batch_size=1, convention="norse")
    got = model(x.flatten(0, 1)).detach().numpy()
    # NIR, forward Euler: I += dt/tau_syn (-I + w_in (x + W s_{t-1})); v += dt/tau_mem (-v + r I); spike, reset to 0
    i = v = s = np.zeros(n)
    for t in range(30):
        i = i + dt / 2e-3 * (-i + 2.0 * (x[0, t].double().numpy() + w_rec @ s))
        v = v + dt / 5e-3 * (-v + 5.0 * i)
        s = (v > 1.0).astype(np.float64)
        v = np.where(s > 0, 0.0, v)
        np.testing.assert_array_equal(got[t], s, err_msg=f"step {t}")
    assert got.sum() > 0


def test_cycles_other_than_the_pattern_name_only_their_nodes():
    n = 2
    lif = nir.LIF(tau=np.full(n, 5.0), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n))
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(np.array([n])), "pre": nir.Affine(np.eye(n), np.zeros(n)), "lif": lif,
               "a": nir.Linear(np.eye(n)), "b": nir.Linear(np.eye(n)), "post": nir.Affine(np.eye(n), np.zeros(n)),
               "output": nir.Output(np.array([n]))},
        edges=[("input", "pre"), ("pre", "lif"), ("lif", "a"), ("a", "b"), ("b", "lif"), ("lif", "post"),
               ("post", "output")],
        type_check=False,
    )  # fmt: skip
    with pytest.raises(ConversionError, match=r"cycle through \['lif', 'a', 'b'\]") as caught:
        from_nir(graph, batch_size=1)
    assert "post" not in str(caught.value)


def test_import_is_linear_in_nodes_and_edges_and_bounded_by_max_nodes():
    def chain(n: int) -> nir.NIRGraph:
        nodes = {"input": nir.Input(np.array([1]))}
        nodes.update({f"s{k}": nir.Scale(np.ones(1)) for k in range(n)})
        nodes["output"] = nir.Output(np.array([1]))
        names = list(nodes)
        return nir.NIRGraph(nodes=nodes, edges=list(itertools.pairwise(names)), type_check=False)

    with pytest.raises(ConversionError, match="more than max_nodes=10000"):
        from_nir(chain(32_000))
    timings = []
    for n in (4_000, 16_000):
        graph = chain(n)
        start = time.perf_counter()
        model = from_nir(graph, max_nodes=n + 2)
        timings.append(time.perf_counter() - start)
        assert len(model.order) == n
    assert timings[1] < 10 * timings[0] + 0.5  # 4x the nodes: linear, not 16x


def test_a_recurrent_layer_with_an_unusual_rec_connect_is_refused_by_name():
    layer = sl.LIFRecurrent(tau_mem=4.0, rec_connect=nn.Sequential(nn.Linear(N, N), nn.ReLU()))
    model = nn.Sequential(nn.Linear(3, N), layer)
    with pytest.raises(ConversionError, match=r"'1'.*rec_connect must be one nn.Linear\(4, 4\)"):
        to_nir(model, torch.rand(B, T, 3))
    spikekit.reset_states(model)


def test_hostile_adaptation_metadata_is_refused_naming_the_node():
    n = 2
    lif = nir.LIF(tau=np.full(n, 5.0), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n),
                  metadata={"spikekit_tau_adapt": np.array([-3.0, 1.0])})  # fmt: skip
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(np.array([n])), "lif": lif, "rec": nir.Linear(np.eye(n)),
               "output": nir.Output(np.array([n]))},
        edges=[("input", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")], type_check=False,
    )  # fmt: skip
    with pytest.raises(ConversionError, match="'lif'.*tau_adapt"):
        from_nir(graph, batch_size=1)
    lif.metadata = {"spikekit_tau_adapt": np.array([b"x", b"y"])}
    with pytest.raises(ConversionError, match="recurrent node 'lif'"):
        from_nir(graph, batch_size=1)
