"""Adding a surrogate is a few lines: a plugin object with one ``spikekit_exports`` hook, registered for one test
with the ``register_plugin`` fixture from :mod:`spikekit_testing.pytest_plugin`."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import spikekit.activation
from spikekit.plugins import Export, hookimpl
from spikekit.protocols import SurrogateSpikeFunction


@dataclasses.dataclass
class Boxcar:
    """``1[|v - thr| < half_width]``: a test-local surrogate."""

    half_width: float = 0.25

    def __call__(self, v_mem, spike_threshold):
        return ((v_mem - spike_threshold).abs() < self.half_width).to(v_mem.dtype)


class BoxcarPlugin:
    @hookimpl
    def spikekit_exports(self):
        return [Export("TestBoxcar", Boxcar, namespace="spikekit.activation")]


class _Spike(SurrogateSpikeFunction):
    @staticmethod
    def spike_rule(v_mem, spike_threshold):
        return (v_mem >= spike_threshold).to(v_mem.dtype)


def test_register_plugin_fixture_adds_a_surrogate(register_plugin):
    register_plugin(BoxcarPlugin(), name="boxcar-test", distribution="boxcar-test")
    sg = spikekit.activation.TestBoxcar()
    v = torch.tensor([0.6, 0.9, 1.2, 1.4], requires_grad=True)
    _Spike.apply(v, torch.tensor(1.0), sg).sum().backward()
    torch.testing.assert_close(v.grad, torch.tensor([0.0, 1.0, 1.0, 0.0]))


def test_the_registration_ends_with_the_test(spikekit_host):
    with pytest.raises(AttributeError, match="TestBoxcar"):
        spikekit.activation.TestBoxcar


def test_a_clashing_name_is_refused_and_reported(register_plugin, spikekit_host):
    class Clash:
        @hookimpl
        def spikekit_exports(self):
            return [Export("TestBoxcar", Boxcar, namespace="spikekit.activation")]

    register_plugin(BoxcarPlugin(), name="first")
    register_plugin(Clash(), name="second")
    with pytest.warns(Warning, match="already provided by plugin 'first'"):
        assert spikekit.activation.TestBoxcar is Boxcar
