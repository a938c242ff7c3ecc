"""Converter hook, errors that name the node, and the conventions' arithmetic against hand-computed values."""

from __future__ import annotations

import math

import nir
import numpy as np
import pytest
import torch
from torch import nn

import spikekit.layers as sl
from spikekit.plugins import hookimpl
from spikekit.plugins.records import ConverterSpec
from spikekit.testing import registered_plugin
from spikekit_nir import Convention, ConversionError, ExportContext, ImportContext, Scale, from_nir, to_nir


class Doubler(nn.Module):
    """A third-party layer: y = 2x."""

    def forward(self, x):
        return 2 * x


def export_doubler(module: nn.Module, ctx: ExportContext) -> nir.NIRNode:
    return nir.Scale(scale=np.full(ctx.input_shape, 2.0, dtype=np.float32), metadata={"kind": "doubler"})


def import_doubler(node: nir.Scale, ctx: ImportContext) -> nn.Module:
    return Doubler()


def import_cubali(node: nir.CubaLI, ctx: ImportContext) -> nn.Module:
    return nn.Identity()


class ThirdParty:
    @hookimpl
    def spikekit_converters(self):
        return [
            ConverterSpec(f"{__name__}.Doubler", export_doubler, format="nir", direction="export"),
            ConverterSpec("CubaLI", import_cubali, format="nir", direction="import"),
            ConverterSpec(f"{__name__}.Doubler", import_doubler, format="nir", direction="import"),
        ]


def test_third_party_plugin_adds_mappings():
    model = nn.Sequential(nn.Linear(3, 3), Doubler())
    x = torch.rand(4, 3)
    with pytest.raises(ConversionError, match="operation 'mul'"):
        to_nir(model, x)
    with registered_plugin(ThirdParty(), name="third-party-nir"):
        graph = to_nir(model, x)
        assert graph.nodes["1"].metadata["kind"] == "doubler"
        assert graph.nodes["1"].metadata["spikekit_class"] == f"{__name__}.Doubler"
        back = from_nir(graph)
        assert isinstance(back.get_node("1"), Doubler)  # the class named in the metadata has an import converter
        assert torch.equal(back(x), model(x))
        cubali = nir.CubaLI(tau_syn=np.ones(3), tau_mem=np.ones(3), r=np.ones(3), v_leak=np.zeros(3))
        assert isinstance(from_nir(cubali).model, nn.Identity)
    with pytest.raises(ConversionError, match="'model' of type CubaLI has no spikekit counterpart"):
        from_nir(cubali)
    assert isinstance(from_nir(graph).get_node("1"), Scale)  # without the plugin: the node type's converter


def test_unsupported_module_and_operation_errors():
    with pytest.raises(ConversionError, match="'0' of type ReLU"):
        to_nir(nn.Sequential(nn.ReLU()), torch.rand(2, 3))

    class Neg(nn.Module):
        def forward(self, x):
            return torch.sigmoid(x)

    with pytest.raises(ConversionError, match="sigmoid"):
        to_nir(Neg(), torch.rand(2, 3))


def test_import_errors_name_the_node():
    n = 3
    lif = nir.LIF(tau=np.full(n, 5.0), r=np.ones(n), v_leak=np.full(n, 1.5), v_threshold=np.ones(n))
    with pytest.raises(ConversionError, match=r"'model' \(LIF\): v_threshold - v_leak must be > 0"):
        from_nir(lif, batch_size=1)
    lif = nir.LIF(tau=np.full(n, 5.0), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n))
    with pytest.raises(ConversionError, match="pass batch_size or num_timesteps"):
        from_nir(lif)
    lif.v_reset = np.full(n, 0.2)
    with pytest.raises(ConversionError, match="v_reset != 0"):
        from_nir(lif, batch_size=1)
    layer = from_nir(lif, batch_size=1, convention=Convention.named("sinabs", reset="to_v_reset")).model
    assert layer.reset_fn.reset_value == pytest.approx(0.2)
    lif.v_reset = np.array([0.0, 0.1, 0.2])
    with pytest.raises(ConversionError, match="per-neuron v_reset"):
        from_nir(lif, batch_size=1, convention="snntorch")
    delay = nir.Delay(delay=np.array([0.5, 1.0]))
    with pytest.raises(ConversionError, match="not whole multiples of dt=1.0"):
        from_nir(delay, batch_size=1)
    pool = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([1, 1]))
    with pytest.raises(ConversionError, match="SumPool2d node 'model' has padding"):
        from_nir(pool)
    loop = nir.NIRGraph(
        nodes={"input": nir.Input(np.array([2])), "a": nir.Linear(np.eye(2)), "b": nir.Linear(np.eye(2)),
               "output": nir.Output(np.array([2]))},
        edges=[("input", "a"), ("a", "b"), ("b", "a"), ("b", "output")], type_check=False,
    )  # fmt: skip
    with pytest.raises(ConversionError, match=r"cycle through \['a', 'b'\]"):
        from_nir(loop)


def test_sinabs_convention_matches_hand_computed_lif():
    """LIF(tau=2, r=1) under 'sinabs': v_t = e^{-1/2} v_{t-1} + x_t, MultiSpike, subtract reset."""
    node = nir.LIF(tau=np.array([2.0]), r=np.array([1.0]), v_leak=np.zeros(1), v_threshold=np.array([1.0]))
    model = from_nir(node, batch_size=1)
    x = torch.tensor([[0.8], [0.8], [0.0], [2.5]])
    a = math.exp(-0.5)
    v, spikes = 0.0, []
    for xt in [0.8, 0.8, 0.0, 2.5]:
        v = a * v + xt
        s = math.floor(v) if v > 0 else 0
        v -= s
        spikes.append(s)
    assert model(x).flatten().tolist() == spikes == [0, 1, 0, 2]


def test_euler_convention_matches_hand_computed_lif_and_cubalif():
    """snntorch preset, dt 1e-4: LIF tau 5e-4, r 5 -> v = 0.8 v + x, single spike, reset to 0."""
    node = nir.LIF(tau=np.array([5e-4]), r=np.array([5.0]), v_leak=np.zeros(1), v_threshold=np.array([1.0]))
    model = from_nir(node, batch_size=1, convention="snntorch")
    xs = [0.6, 0.6, 3.0, 0.1]
    v, expected = 0.0, []
    for xt in xs:
        v = 0.8 * v + xt
        s = 1.0 if v >= 1.0 else 0.0
        v = 0.0 if s else v
        expected.append(s)
    assert model(torch.tensor(xs).reshape(4, 1)).flatten().tolist() == expected == [0, 1, 1, 0]
    # CubaLIF tau_syn 2e-4, w_in 2: I = 0.5 I + x; v = 0.8 v + I (r = tau_mem/dt)
    cuba = nir.CubaLIF(
        tau_syn=np.array([2e-4]), tau_mem=np.array([5e-4]), r=np.array([5.0]), v_leak=np.zeros(1),
        v_threshold=np.array([1.0]), w_in=np.array([2.0]),
    )  # fmt: skip
    model = from_nir(cuba, batch_size=1, convention="snntorch")
    i = v = 0.0
    expected = []
    for xt in [0.5, 0.5, 0.0, 0.4]:
        i = 0.5 * i + xt
        v = 0.8 * v + i
        s = 1.0 if v >= 1.0 else 0.0
        v = 0.0 if s else v
        expected.append(s)
    got = model(torch.tensor([0.5, 0.5, 0.0, 0.4]).reshape(4, 1)).flatten().tolist()
    assert got == expected == [0, 1, 0, 0]


def test_if_floor_and_integrator():
    node = nir.IF(r=np.ones(2), v_threshold=np.array([1.0, 2.0]))
    layer = from_nir(node, batch_size=1).model
    assert torch.equal(layer.min_v_mem, torch.tensor([-1.0, -2.0]))
    assert from_nir(node, batch_size=1, convention=Convention.named("sinabs", if_floor=False)).model.min_v_mem is None
    integ = from_nir(nir.I(r=np.array([0.5])), batch_size=1, convention=Convention(dt=2.0, gain="euler"))
    # dv/dt = 0.5 I, dt 2 -> v += 1.0 * x
    assert integ(torch.tensor([[1.0], [2.0], [-0.5]])).flatten().tolist() == [1.0, 3.0, 2.5]


def test_public_namespaces():
    import spikekit
    import spikekit.nir

    assert spikekit.to_nir is to_nir and spikekit.nir.from_nir is from_nir
    assert spikekit.nir.Convention is Convention
    assert isinstance(from_nir(nir.LI(np.ones(1) * 3, np.ones(1), np.zeros(1)), num_timesteps=2).model,
                      sl.ExpLeakSqueeze)  # fmt: skip


@pytest.mark.parametrize("conv", [nn.Conv1d(2, 3, 3, padding=1, padding_mode="reflect"),
                                  nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular")])  # fmt: skip
def test_convolution_padding_other_than_zeros_is_refused(conv):
    x = torch.rand(1, 2, 8) if isinstance(conv, nn.Conv1d) else torch.rand(1, 2, 8, 8)
    with pytest.raises(ConversionError, match="padding_mode=.*NIR convolutions pad with zeros"):
        to_nir(nn.Sequential(conv), x)


class _TwoOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        y = self.fc(x)
        return y, y


def test_a_model_with_two_outputs_is_refused():
    with pytest.raises(ConversionError, match="must return one tensor, it returns 2"):
        to_nir(_TwoOutputs(), torch.rand(1, 3))
