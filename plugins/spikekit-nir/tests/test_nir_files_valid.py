"""Every graph ``to_nir`` returns passes the nir package's own ``nir.write`` and ``nir.read(type_check=True)``;
the data layout is inferred from the model's neuron layers, and what cannot be inferred is refused with a message
that says what to pass."""

from __future__ import annotations

import warnings

import nir
import pytest
import torch
from torch import nn

import spikekit
import spikekit.layers as sl
from spikekit_nir import ConversionError, from_nir, to_nir
from spikekit_nir.modules import Delay, Scale, Threshold

B, T = 2, 5


def _cases():
    yield (
        "plain (B, T, N)",
        lambda: nn.Sequential(nn.Linear(3, 4), sl.IAF(), nn.Linear(4, 2), sl.LIF(tau_mem=3.0)),
        (B, T, 3),
    )
    yield "plain, one step", lambda: nn.Sequential(nn.Linear(3, 4), sl.LIF(tau_mem=3.0, tau_syn=2.0)), (B, 1, 3)
    yield "plain ExpLeak", lambda: nn.Sequential(nn.Linear(3, 3), sl.ExpLeak(tau_mem=4.0)), (B, T, 3)
    yield "single plain layer", lambda: sl.IAF(), (B, T, 3)
    yield "squeeze (B*T, N)", lambda: nn.Sequential(nn.Linear(3, 4), sl.IAFSqueeze(batch_size=B)), (B * T, 3)
    yield "squeeze conv", lambda: nn.Sequential(
        nn.Conv2d(1, 4, 3), sl.IAFSqueeze(batch_size=B), sl.SumPool2d(2), nn.Conv2d(4, 4, 1),
        nn.Flatten(), nn.Linear(4 * 3 * 3, 2), sl.LIFSqueeze(tau_mem=3.0, batch_size=B),
    ), (B * T, 1, 8, 8)  # fmt: skip
    yield "scalar Scale / Threshold / Delay", lambda: nn.Sequential(
        nn.Linear(3, 4), Scale(torch.tensor(2.0)), Delay(torch.tensor(1), B), Threshold(torch.tensor(0.3)),
    ), (B * T, 3)  # fmt: skip
    yield "no neurons", lambda: nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)), (B, 3)


@pytest.mark.parametrize("index", range(8))
def test_exported_graphs_pass_nirs_write_and_typed_read(tmp_path, index):
    label, make, shape = list(_cases())[index]
    torch.manual_seed(index)
    model = make()
    x = (torch.rand(*shape) * 3).round()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = to_nir(model, x)
    path = tmp_path / "model.nir"
    nir.write(path, graph)
    typed = nir.read(path, type_check=True)  # raises on a type mismatch
    assert set(typed.nodes) >= set(graph.nodes), label
    spikekit.reset_states(model)
    expected = model(x)
    back = from_nir(path, batch_size=B)
    if "plain" in label:  # plain layers take (B, T, ...); the imported Squeeze layers take (B*T, ...)
        x, expected = x.flatten(0, 1), expected.flatten(0, 1)
    assert torch.equal(back(x), expected), label


def test_grouped_convolution_is_exported_although_nirs_type_check_miscounts_its_channels(tmp_path):
    """nir takes a convolution's input channels to be weight.shape[1] (without x groups), so nir.read with type
    checking refuses any grouped convolution; spikekit still exports it and reads it back."""
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.Conv2d(4, 4, 1, groups=2))
    x = torch.rand(B, 2, 6, 6)
    path = tmp_path / "grouped.nir"
    to_nir(model, x, path=path)
    with pytest.raises(ValueError, match="type mismatch"):
        nir.read(path, type_check=True)
    assert torch.allclose(from_nir(path)(x), model(x))


def test_plain_layers_on_a_batch_features_sample_count_neurons_from_the_feeding_layer(tmp_path):
    # sinabs's reading of a (batch, features) sample: dim 0 ignored, the neuron count is the Linear's out_features
    model = nn.Sequential(nn.Linear(3, 4), sl.IAF(), nn.Linear(4, 2))
    graph = to_nir(model, torch.rand(1, 3))
    assert graph.nodes["1"].v_threshold.shape == (4,)
    assert graph.nodes["0"].weight.shape == (4, 3)
    nir.write(tmp_path / "m.nir", graph)
    back = nir.read(tmp_path / "m.nir", type_check=True)
    assert back.nodes["1"].v_threshold.shape == (4,)


def test_a_layout_that_does_not_fit_names_ignore_dims():
    model = nn.Sequential(nn.Linear(3, 4), sl.IAF())
    with pytest.raises(ConversionError, match=r"type check.*ignore_dims=\(0,\).*\(0, 1\) for \(B, T, \.\.\.\)"):
        to_nir(model, torch.rand(B, T, 3), ignore_dims=(0,))


def test_mixed_squeeze_and_plain_layers_need_ignore_dims():
    model = nn.Sequential(nn.Linear(3, 4), sl.IAFSqueeze(batch_size=B), nn.Linear(4, 4), sl.IAF())
    with pytest.raises(ConversionError, match="pass ignore_dims"):
        to_nir(model, torch.rand(B * T, 3))


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="to_nir expects a torch.nn.Module, got str"):
        to_nir("model", torch.rand(2, 3))
    with pytest.raises(TypeError, match="sample_data to be a torch.Tensor, got list"):
        to_nir(nn.Linear(3, 2), [[1.0, 2.0, 3.0]])
