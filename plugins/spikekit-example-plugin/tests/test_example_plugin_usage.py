"""The example plugin used as a user would: through ``spikekit.activation``, inside a neuron layer, and against
the core's SurrogateConformance suite. Nothing is installed here: if the distribution's entry point is not
installed, the plugin module is registered by hand for the test (the ``register_plugin`` fixture)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

try:
    import spikekit_example_plugin
except ImportError:  # running from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import spikekit_example_plugin

import spikekit.activation
from spikekit_example_plugin import TanhSurrogate
from spikekit_testing import SurrogateConformance


@pytest.fixture
def activation(spikekit_host, register_plugin):
    """``spikekit.activation`` on a fresh host where the example plugin is registered (by entry point or by hand)."""
    if "TanhSurrogate" not in spikekit_host.exports("spikekit.activation"):
        from spikekit_example_plugin import plugin

        register_plugin(plugin, name="example", distribution="spikekit-example-plugin")
    return spikekit.activation


def test_reachable_as_spikekit_activation_tanhsurrogate(activation):
    assert activation.TanhSurrogate is spikekit_example_plugin.TanhSurrogate
    assert "TanhSurrogate" in dir(activation)


@pytest.mark.parametrize("slope", [0.5, 2.0, 7.0])
def test_matches_its_formula(slope):
    sg = TanhSurrogate(slope=slope)
    points = [-2.0, -0.3, 0.0, 0.4, 1.0, 1.1, 3.0]
    got = sg(torch.tensor(points, dtype=torch.float64), torch.tensor(0.6, dtype=torch.float64)).tolist()
    want = [slope / 2 / math.cosh(slope * (p - 0.6)) ** 2 for p in points]
    assert got == pytest.approx(want, rel=1e-12)


def test_is_the_derivative_of_its_primitive():
    sg = TanhSurrogate(slope=3.0)
    v = torch.linspace(-2, 3, 101, dtype=torch.float64)
    thr = torch.tensor(1.0, dtype=torch.float64)
    h = 1e-6
    fd = (sg.primitive(v + h, thr) - sg.primitive(v - h, thr)) / (2 * h)
    torch.testing.assert_close(sg(v, thr), fd, rtol=1e-6, atol=1e-8)


def test_rejects_a_non_positive_slope():
    with pytest.raises(ValueError, match="TanhSurrogate: slope must be > 0, got -1"):
        TanhSurrogate(slope=-1)


class TestTanhConformance(SurrogateConformance):
    def make_surrogate(self):
        return TanhSurrogate()


def test_inside_a_neuron_layer(activation):
    """A LIF layer built with the plugin's surrogate back-propagates exactly that surrogate."""
    import spikekit.layers as sl

    try:
        lif_cls = sl.LIF
    except Exception as exc:
        pytest.skip(f"spikekit.layers.LIF is not available: {exc}")
    sg = activation.TanhSurrogate(slope=3.0)
    x = torch.rand(2, 6, 4, generator=torch.Generator().manual_seed(0)) * 1.5

    def grad_with(surrogate):
        xi = x.clone().requires_grad_(True)
        lif_cls(tau_mem=10.0, surrogate_grad_fn=surrogate)(xi).sum().backward()
        return xi.grad

    same_formula = lambda v, thr: 1.5 * (1 - torch.tanh(3.0 * (v - thr)) ** 2)
    torch.testing.assert_close(grad_with(sg), grad_with(same_formula))
    assert not torch.equal(grad_with(sg), grad_with(activation.TanhSurrogate(slope=0.5)))
