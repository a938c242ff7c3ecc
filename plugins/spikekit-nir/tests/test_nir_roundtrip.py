"""spikekit -> NIR -> spikekit gives identical outputs, layer by layer, and through files."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

import spikekit
import spikekit.activation as sa
import spikekit.layers as sl
from spikekit_nir import Convention, NIRGraphModule, from_nir, load, save, to_nir
from spikekit_nir.modules import Delay, Scale, Threshold

B, T = 2, 6


def _roundtrip(model: nn.Module, x: torch.Tensor, convention: str | Convention = "sinabs", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = to_nir(model, x, convention=convention)
    spikekit.reset_states(model)
    expected = model(x)
    back = from_nir(graph, batch_size=B, convention=convention, **kw)
    assert isinstance(back, NIRGraphModule)
    got = back(x)
    reexport_is_identical(back, x, convention, **kw)
    spikekit.reset_states(back)
    return graph, back, expected, got


def reexport_is_identical(back: NIRGraphModule, x: torch.Tensor, convention: str | Convention = "sinabs", **kw):
    """What from_nir returned -> to_nir -> file -> from_nir: outputs identical to the first import's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = to_nir(back, x, convention=convention)
    with tempfile.TemporaryDirectory() as folder:
        save(again, Path(folder) / "again.nir")
        third = from_nir(Path(folder) / "again.nir", batch_size=B, convention=convention, **kw)
    spikekit.reset_states(back)
    assert torch.equal(third(x), back(x))


def _neuron_cases():
    n = 5
    thr = torch.linspace(0.5, 1.5, n)
    yield "IAF", lambda: sl.IAFSqueeze(batch_size=B)
    yield "IAF-thr-floor", lambda: sl.IAFSqueeze(batch_size=B, spike_threshold=thr, min_v_mem=-0.7)
    yield "IAF-syn", lambda: sl.IAFSqueeze(batch_size=B, tau_syn=3.0)
    yield "LIF", lambda: sl.LIFSqueeze(tau_mem=5.0, batch_size=B)
    yield "LIF-raw-input", lambda: sl.LIFSqueeze(tau_mem=torch.linspace(2, 9, n), batch_size=B, norm_input=False)
    yield "LIF-syn", lambda: sl.LIFSqueeze(tau_mem=8.0, tau_syn=torch.linspace(2, 4, n), batch_size=B)
    yield (
        "LIF-single-reset",
        lambda: sl.LIFSqueeze(
            tau_mem=4.0, batch_size=B, spike_fn=sa.SingleSpike, reset_fn=sa.MembraneReset(), norm_input=False
        ),
    )
    yield "LIF-train-alphas", lambda: sl.LIFSqueeze(tau_mem=6.0, train_alphas=True, batch_size=B)
    yield "ExpLeak", lambda: sl.ExpLeakSqueeze(tau_mem=torch.linspace(2, 9, n), batch_size=B)
    yield "ExpLeak-norm", lambda: sl.ExpLeakSqueeze(tau_mem=3.0, norm_input=True, batch_size=B)
    yield "ExpLeak-inf", lambda: sl.ExpLeakSqueeze(tau_mem=float("inf"), batch_size=B)


@pytest.mark.parametrize("convention", ["sinabs", "snntorch", "norse"])
@pytest.mark.parametrize("case", list(_neuron_cases()), ids=lambda c: c[0])
def test_neuron_roundtrip_identical(case, convention):
    torch.manual_seed(0)
    name, make = case
    model = nn.Sequential(nn.Linear(3, 5), make())
    x = torch.rand(B * T, 3) * 12 - 2
    _, back, expected, got = _roundtrip(model, x, convention)
    assert torch.equal(expected, got) if convention == "sinabs" else torch.allclose(expected, got, atol=1e-5)
    assert expected.abs().sum() > 0


def test_conv_pool_flatten_roundtrip_and_file(tmp_path):
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=B),
        sl.SumPool2d(2),
        nn.Conv2d(4, 4, 3, stride=2, dilation=1, groups=2),
        sl.LIFSqueeze(tau_mem=4.0, batch_size=B),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(4, 3),
        sl.ExpLeakSqueeze(tau_mem=2.0, batch_size=B),
    )
    x = (torch.rand(B * T, 2, 12, 12) < 0.5).float() * 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = tmp_path / "model.nir"
        graph = to_nir(model, x, path=path)
    assert [type(graph.nodes[str(i)]).__name__ for i in range(9)] == [
        "Conv2d", "IF", "SumPool2d", "Conv2d", "LIF", "AvgPool2d", "Flatten", "Affine", "LI",
    ]  # fmt: skip
    spikekit.reset_states(model)
    expected = model(x)
    for source in (graph, path, load(path)):
        back = from_nir(source, batch_size=B)
        assert torch.equal(back(x), expected)
    save(graph, tmp_path / "again.nir")
    assert torch.equal(from_nir(tmp_path / "again.nir", num_timesteps=T)(x), expected)


def test_conv1d_roundtrip():
    model = nn.Sequential(nn.Conv1d(2, 3, 3, padding=1), sl.IAFSqueeze(batch_size=B))
    x = torch.rand(B * T, 2, 10) * 2
    _, _, expected, got = _roundtrip(model, x)
    assert torch.equal(expected, got)


def test_merge_and_add_skip_connections_names_and_state_dict():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 4)
            self.spk1 = sl.IAFSqueeze(batch_size=B)
            self.fc2 = nn.Linear(4, 4)
            self.merge = sl.Merge()
            self.spk2 = sl.IAFSqueeze(batch_size=B)
            self.head = nn.Sequential(nn.Linear(4, 2), sl.IAFSqueeze(batch_size=B))

        def forward(self, x):
            a = self.spk1(self.fc1(x))
            b = self.spk2(self.merge(self.fc2(a), x))
            return self.head(b + a)

    torch.manual_seed(2)
    model = Block()
    x = torch.rand(B * T, 4) * 2
    graph, back, expected, got = _roundtrip(model, x)
    assert torch.equal(expected, got)
    assert set(graph.nodes) == {"input", "output", "fc1", "spk1", "fc2", "spk2", "head.0", "head.1"}
    assert ("input", "spk2") in graph.edges and ("fc2", "spk2") in graph.edges
    assert ("spk1", "head.0") in graph.edges and ("spk2", "head.0") in graph.edges
    assert set(back.state_dict()) >= {"fc1.weight", "head.0.weight", "spk1.v_mem", "head.1.spike_threshold"}


def test_scale_threshold_delay_roundtrip():
    model = nn.Sequential(
        nn.Linear(3, 4), Scale(torch.tensor([1.0, -2.0, 0.5, 3.0])), Delay(torch.tensor([0, 1, 2, 3]), B),
        Threshold(torch.tensor(0.3)),
    )  # fmt: skip
    x = torch.randn(B * T, 3)
    graph, _, expected, got = _roundtrip(model, x)
    assert {type(n).__name__ for n in graph.nodes.values()} >= {"Scale", "Delay", "Threshold"}
    assert torch.equal(expected, got)


def test_delay_shifts_each_neuron_and_unfolds_like_a_squeeze_layer():
    x = torch.arange(1.0, 2 * 4 * 2 + 1).reshape(2 * 4, 2)  # (B*T, 2) with B=2, T=4
    by_batch, by_time = Delay(torch.tensor([0, 2]), batch_size=2), Delay(torch.tensor([0, 2]), num_timesteps=4)
    seq = x.reshape(2, 4, 2)
    expected = torch.stack([seq[..., 0], torch.cat([torch.zeros(2, 2), seq[:, :2, 1]], 1)], -1).reshape(8, 2)
    assert torch.equal(by_batch(x), expected) and torch.equal(by_time(x), expected)
    spikekit.utils.set_batch_size(nn.Sequential(by_batch), 4)  # a Squeeze layer: the model-wide setter reaches it
    assert by_batch.batch_size == 4
    with pytest.raises(TypeError, match="batch_size or num_timesteps"):
        Delay(torch.tensor(1))
    with pytest.raises(ValueError, match="^Delay expects input of shape \\(batch\\*time, ...\\)"):
        Delay(torch.tensor(1), batch_size=3)(x)


def test_single_layer_model_is_named_model():
    layer = sl.LIFSqueeze(tau_mem=3.0, batch_size=B)
    x = torch.rand(B * T, 4) * 2
    graph = to_nir(layer, x)
    assert set(graph.nodes) == {"input", "model", "output"}
    spikekit.reset_states(layer)
    assert torch.equal(from_nir(graph, batch_size=B)(x), layer(x))


def test_time_major_layout_with_ignore_dims():
    model = nn.Sequential(nn.Linear(3, 4), sl.LIF(tau_mem=3.0))
    x = torch.rand(B, T, 3) * 3
    graph = to_nir(model, x, ignore_dims=(0, 1))
    assert list(graph.nodes["input"].input_type["input"]) == [3]
    assert list(graph.nodes["1"].tau.shape) == [4]
    spikekit.reset_states(model)
    expected = model(x)
    got = from_nir(graph, batch_size=B)(x.reshape(B * T, 3)).reshape(B, T, 4)
    assert torch.equal(expected, got)


def test_reexport_rewires_routing_nodes_once_each():
    from spikekit_nir.reexport import _rewire

    # a chain of 5,000 routing nodes and a diamond of them: the sources reach the consumer directly, once each
    chain = [f"r{k}" for k in range(5000)]
    edges = list(zip(["a", *chain], [*chain, "b"]))
    assert _rewire(edges, set(chain)) == [("a", "b")]
    diamond = [("a", "r1"), ("c", "r1"), ("r1", "r2"), ("r1", "r3"), ("r2", "r4"), ("r3", "r4"), ("r4", "b")]
    assert _rewire(diamond, {"r1", "r2", "r3", "r4"}) == [("a", "b"), ("c", "b")]
