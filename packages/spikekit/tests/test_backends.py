"""Backend selection: per layer, by context manager, fallback policy, missing backends."""

from __future__ import annotations

import types
import warnings

import pytest
import torch

import spikekit
from spikekit.compute import NeuronParams, available_backends, current_backend, get_backend, run_neuron, use_backend
from spikekit.errors import BackendFallbackWarning, BackendUnsupportedError, PluginNotInstalledError
from spikekit.plugins import BackendSpec, hookimpl
from spikekit.testing import isolated_host


class Recorder:
    """A toy backend: output = x * factor; records who ran."""

    def __init__(self, name, factor, decline=None):
        self.name, self.factor, self.decline, self.calls = name, factor, decline, 0

    def unsupported_reason(self, x, state, params):
        return self.decline

    def run(self, x, state, params):
        self.calls += 1
        return x * self.factor, dict(state), {}


def _host_with(*backends):
    plugin = types.ModuleType("toy_backends")
    plugin.spikekit_backends = hookimpl(lambda: [BackendSpec(b.name, b, description=f"x{b.factor}") for b in backends])
    ctx = isolated_host(autoload=False)
    h = ctx.__enter__()
    h.register(plugin, name="toy")
    return ctx


def _params(name="Toy"):
    return NeuronParams(torch.tensor(1.0), None, torch.tensor(1.0), None, None, None, layer_name=name)


@pytest.fixture
def toy():
    ref, fast, picky = Recorder("torch", 1.0), Recorder("fast", 2.0), Recorder("picky", 3.0, decline="no ALIF here")
    ctx = _host_with(ref, fast, picky)
    yield ref, fast, picky
    ctx.__exit__(None, None, None)


def test_default_is_the_reference_backend(toy):
    ref, fast, _ = toy
    x = torch.ones(2, 3)
    out, _, _ = run_neuron(None, x, {}, _params())
    assert torch.equal(out, x) and ref.calls == 1 and fast.calls == 0
    assert current_backend() == "torch"
    assert available_backends() == {"torch": "x1.0", "fast": "x2.0", "picky": "x3.0"}


def test_context_manager_and_layer_choice(toy):
    ref, fast, _ = toy
    x = torch.ones(2)
    with use_backend("fast"):
        assert current_backend() == "fast"
        assert torch.equal(run_neuron(None, x, {}, _params())[0], 2 * x)
        assert torch.equal(run_neuron("torch", x, {}, _params())[0], x)  # the layer's own choice wins
        with use_backend("torch"):
            assert torch.equal(run_neuron(None, x, {}, _params())[0], x)
        assert current_backend() == "fast"
    assert current_backend() == "torch"
    assert torch.equal(run_neuron("fast", x, {}, _params())[0], 2 * x)


def test_fallback_warns_once_per_layer_backend_and_reason(toy):
    ref, _, picky = toy
    x = torch.ones(2)
    with pytest.warns(
        BackendFallbackWarning, match=r"PickyLayer: backend 'picky' cannot run this layer \(no ALIF here\)"
    ):
        out = run_neuron("picky", x, {}, _params("PickyLayer"))
    assert torch.equal(out[0], x) and picky.calls == 0 and ref.calls == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_neuron("picky", x, {}, _params("PickyLayer"))  # second time: no warning


def test_fallback_error_and_silent_modes(toy):
    x = torch.ones(2)
    with use_backend("picky", fallback="error"):
        with pytest.raises(BackendUnsupportedError, match="ErrLayer: backend 'picky' cannot run this layer: no ALIF"):
            run_neuron(None, x, {}, _params("ErrLayer"))
    with use_backend("picky", fallback="silent"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            run_neuron(None, x, {}, _params("SilentLayer"))
    with pytest.raises(ValueError, match="fallback must be"):
        with use_backend("fast", fallback="maybe"):
            pass


def test_unknown_backend_is_refused_early_with_the_installed_list(toy):
    with pytest.raises(PluginNotInstalledError, match=r"no backend named 'gpu9000'.*installed: fast, picky, torch"):
        with use_backend("gpu9000"):
            pass
    with pytest.raises(
        PluginNotInstalledError,
        match=r"no backend named 'fused-cpu'.*no installed spikekit plugin provides backend 'fused-cpu'",
    ):
        get_backend("fused-cpu")


def test_backend_instances_are_created_once_per_host(toy):
    assert get_backend("fast") is get_backend("fast")


def test_lazy_backend_class_is_instantiated_on_first_use():
    plugin = types.ModuleType("lazy_backend")
    plugin.spikekit_backends = hookimpl(lambda: [BackendSpec("lazy", "collections:OrderedDict")])
    with isolated_host(autoload=False) as h:
        h.register(plugin, name="lazy")
        assert type(get_backend("lazy")).__name__ == "OrderedDict"


def test_top_level_names():
    assert spikekit.use_backend is use_backend
