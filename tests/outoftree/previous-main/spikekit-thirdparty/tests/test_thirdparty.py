"""spikekit-thirdparty, installed as its own distribution, through spikekit's public contract alone."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest
import spikekit_thirdparty
import torch

import spikekit
from spikekit.backends import get_backend, run_step_loop, use_backend
from spikekit.errors import BackendFallbackWarning
from spikekit.testing import BackendConformance, NeuronConformance, SurrogateConformance


def test_installed_as_a_distribution_not_from_the_source_tree():
    from importlib import metadata

    dist = metadata.distribution("spikekit-thirdparty")
    assert dist.version == "0.1.0"
    direct = dist.read_text("direct_url.json") or ""
    assert '"editable": true' not in direct.replace(" ", "").replace('"editable":true', '"editable": true')
    assert "site-packages" in spikekit_thirdparty.__file__


# ------------------------------------------------------------------------------------------ conformance suites
class TestDendriticLIFConformance(NeuronConformance):
    input_shape = (3, 6, 4)

    def make_layer(self):
        return spikekit.layers.DendriticLIF(tau_mem=5.0, tau_dend=3.0, spike_threshold=0.3)


class TestInverseSquareConformance(SurrogateConformance):
    def make_surrogate(self):
        return spikekit.activation.InverseSquare()


class TestStepLoopBackendConformance(BackendConformance):
    backend_name = "thirdparty-loop"
    must_support = ("step-two-compartment", "step-record")

    def step_models(self):
        models = super().step_models()
        layer = spikekit.layers.DendriticLIF(tau_mem=4.0, tau_dend=2.0, spike_threshold=0.5)
        return [*models, ("dendritic", layer.step_model, ("v_mem", "d"))]


# ---------------------------------------------------------------------------------------------- fast paths
def test_the_neuron_gets_the_compiled_fast_path_and_matches_the_reference():
    x = torch.rand(2, 10, 6, generator=torch.Generator().manual_seed(1))
    ref = spikekit.layers.DendriticLIF(tau_mem=5.0, tau_dend=3.0, spike_threshold=0.3)
    fast = spikekit.layers.DendriticLIF(tau_mem=5.0, tau_dend=3.0, spike_threshold=0.3, backend="compiled")
    xr, xf = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackendFallbackWarning)  # no fallback: the compiled backend runs it
        out = fast(xf)
    expected = ref(xr)
    assert expected.sum() > 0
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    torch.testing.assert_close(fast.v_mem, ref.v_mem, rtol=1e-6, atol=1e-6)
    out.sum().backward()
    expected.sum().backward()
    torch.testing.assert_close(xf.grad, xr.grad, rtol=1e-5, atol=1e-6)


def test_third_party_activations_run_inside_the_fused_loop():
    lif = dict(tau_mem=6.0, spike_threshold=0.4)
    ours = spikekit.layers.LIF(
        **lif,
        spike_fn=spikekit.activation.AtLeastSpike,
        surrogate_grad_fn=spikekit.activation.InverseSquare(),
        backend="fused-cpu",
    )
    ref = spikekit.layers.LIF(
        **lif, spike_fn=spikekit.activation.AtLeastSpike, surrogate_grad_fn=spikekit.activation.InverseSquare()
    )
    x = torch.rand(2, 12, 5, generator=torch.Generator().manual_seed(2))
    xo, xr = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackendFallbackWarning)
        out = ours(xo)
    expected = ref(xr)
    torch.testing.assert_close(out, expected)
    out.sum().backward()
    expected.sum().backward()
    torch.testing.assert_close(xo.grad, xr.grad, rtol=1e-5, atol=1e-6)


def test_an_activation_without_a_spec_falls_back_naming_it():
    class Opaque(torch.autograd.Function):  # no spec: a fused backend cannot know what it computes
        required_states = ["v_mem"]

        @staticmethod
        def forward(ctx, v, thr, sg):
            return (v >= thr).to(v.dtype)

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    layer = spikekit.layers.LIF(tau_mem=6.0, spike_fn=Opaque, backend="fused-cpu")
    with pytest.warns(BackendFallbackWarning, match="Opaque has no spec") as caught:
        layer(torch.rand(1, 3, 2))
    assert caught[0].filename == __file__  # at the caller's line


# ------------------------------------------------------------------------------------------------------- NIR
def test_nir_export_and_import_round_trip():
    pytest.importorskip("nir")
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), spikekit.layers.DendriticLIF(tau_mem=5.0, tau_dend=3.0))
    x = torch.rand(2, 8, 4, generator=torch.Generator().manual_seed(3)) * 2
    expected = model(x)
    graph = spikekit.nir.to_nir(model, x)
    node = next(n for n in graph.nodes.values() if type(n).__name__ == "CubaLIF")
    assert node is not None
    back = spikekit.nir.from_nir(graph, batch_size=2)
    out = back(x.flatten(0, 1)).unflatten(0, (2, 8))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------ command line
def _spikekit(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "spikekit", *args], capture_output=True, text=True, env=full_env, timeout=300
    )


def test_spikekit_plugins_lists_it_and_the_command_runs():
    listing = _spikekit("plugins", "--strict")
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert "thirdparty (spikekit-thirdparty 0.1.0)" in listing.stdout
    for item in ("spikekit.layers.DendriticLIF", "backend:thirdparty-loop", "command:thirdparty-hello"):
        assert item in listing.stdout
    hello = _spikekit("thirdparty-hello", "--name", "tester")
    assert hello.returncode == 0 and "hello tester, from spikekit-thirdparty" in hello.stdout


# ------------------------------------------------------------------------------------------ broken variants
PROBE = "import spikekit.layers as sl; sl.DendriticLIF"


@pytest.mark.parametrize(
    "variant, expected",
    [
        ("import", r"spikekit-thirdparty.*failed at import.*broken on purpose at import"),
        ("hook", r"spikekit-thirdparty.*hook spikekit_exports.*broken on purpose in spikekit_exports"),
    ],
)
def test_a_broken_plugin_is_named_when_its_names_are_used(variant, expected):
    import re

    run = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SPIKEKIT_THIRDPARTY_BREAK": variant},
    )
    assert run.returncode != 0
    assert "PluginNotInstalledError" in run.stderr and re.search(expected, run.stderr), run.stderr
    listing = _spikekit("plugins", SPIKEKIT_THIRDPARTY_BREAK=variant)
    assert listing.returncode == 0 and "spikekit-thirdparty" in listing.stdout.split("Skipped:")[1]


def test_blocked_is_shown_as_blocked():
    env = {"SPIKEKIT_BLOCK_PLUGINS": "spikekit-thirdparty"}
    run = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300, env={**os.environ, **env}
    )
    assert "spikekit-thirdparty (plugin 'thirdparty') is blocked" in run.stderr, run.stderr
    listing = _spikekit("plugins", **env)
    assert "spikekit-thirdparty" in listing.stdout.split("Blocked:")[1]


def test_a_misspelled_hook_is_reported_and_raises_in_strict_mode():
    listing = _spikekit("plugins", SPIKEKIT_THIRDPARTY_BREAK="typo")
    assert "'spikekit_export' is not a spikekit hook; did you mean 'spikekit_exports'?" in listing.stdout
    strict = _spikekit("plugins", SPIKEKIT_THIRDPARTY_BREAK="typo", SPIKEKIT_STRICT_PLUGINS="1")
    assert strict.returncode != 0 and "PluginError" in strict.stderr


def test_a_clashing_name_keeps_the_first_party_one():
    run = subprocess.run(
        [sys.executable, "-c", "import spikekit.layers as sl; print(sl.LIF.__module__)"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SPIKEKIT_THIRDPARTY_BREAK": "clash"},
    )
    assert run.stdout.strip() == "spikekit_neurons.lif", run.stderr
    assert "spikekit-thirdparty" in run.stderr and "already provided by" in run.stderr


def test_a_failing_command_is_named_and_spikekit_keeps_working():
    env = {"SPIKEKIT_THIRDPARTY_BREAK": "command"}
    broken = _spikekit("thirdparty-hello", **env)
    assert broken.returncode == 1 and "distribution 'spikekit-thirdparty'" in broken.stderr
    assert "missing_cli" in broken.stderr
    assert _spikekit("--help", **env).returncode == 0
    listing = _spikekit("plugins", **env)
    assert listing.returncode == 0 and "could not be loaded" in listing.stdout
    assert _spikekit("info", **env).returncode == 0


def test_reference_loop_and_thirdparty_backend_agree_on_the_layer():
    layer = spikekit.layers.DendriticLIF(tau_mem=4.0, tau_dend=2.0)
    x = torch.rand(1, 5, 3) * 2
    state = {"v_mem": torch.zeros(1, 3), "d": torch.zeros(1, 3)}
    with use_backend("thirdparty-loop", fallback="error"):
        out = layer(x)
    ref = run_step_loop(x, state, layer.step_model())[0]
    assert torch.equal(out, ref)
    assert get_backend("thirdparty-loop").unsupported_reason(x, state, layer.step_model()) is None
