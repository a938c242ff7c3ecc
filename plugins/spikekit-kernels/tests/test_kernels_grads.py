"""Every tensor a neuron layer can train gets the reference backend's gradient on every registered backend.

For each neuron layer of ``spikekit.layers`` (in several configurations) and each tensor it computes with that can
require grad (its Parameters, the trainable ones and the frozen ones, and the tensors inside its reset function),
that tensor alone is made trainable and the layer is run on every registered backend (a backend that cannot run the
configuration falls back to the reference, as the core documents). The outputs and the gradients of that tensor and
of the input must match the reference backend's; a gradient may be None only where the reference's is None.
"""

from __future__ import annotations

import dataclasses
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import spikekit
import spikekit.compute as compute
from spikekit.errors import BackendFallbackWarning

sl = pytest.importorskip("spikekit.layers")
act = pytest.importorskip("spikekit.activation")

B, T, N = 2, 14, 6


def _rec() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Flatten(), nn.Linear(N, N, bias=False))


def _resets() -> dict[str, Callable[[], Any]]:
    return {
        "subtract": lambda: act.MembraneSubtract(),
        "subtract-value": lambda: act.MembraneSubtract(subtract_value=nn.Parameter(torch.tensor(0.7))),
        "reset-value": lambda: act.MembraneReset(reset_value=nn.Parameter(torch.tensor(0.2))),
        "reset-per-neuron": lambda: act.MembraneReset(reset_value=nn.Parameter(torch.linspace(-0.2, 0.3, N))),
    }


# layer class name -> (builder taking the reset function (None: the layer has none), squeezed input?)
BUILDERS: dict[str, tuple[Callable[[Any], nn.Module], bool]] = {
    "IAF": (lambda r: sl.IAF(reset_fn=r, min_v_mem=-0.5), False),
    "IAFSqueeze": (lambda r: sl.IAFSqueeze(batch_size=B, reset_fn=r), True),
    "IAFRecurrent": (lambda r: sl.IAFRecurrent(rec_connect=_rec(), reset_fn=r), False),
    "LIF": (lambda r: sl.LIF(tau_mem=8.0, tau_syn=4.0, reset_fn=r, min_v_mem=-0.3), False),
    "LIFSqueeze": (lambda r: sl.LIFSqueeze(batch_size=B, tau_mem=8.0, train_alphas=True, reset_fn=r), True),
    "LIFRecurrent": (lambda r: sl.LIFRecurrent(tau_mem=8.0, rec_connect=_rec(), reset_fn=r), False),
    "ExpLeak": (lambda r: sl.ExpLeak(tau_mem=6.0), False),
    "ExpLeakSqueeze": (lambda r: sl.ExpLeakSqueeze(batch_size=B, tau_mem=6.0, train_alphas=True), True),
    "ALIF": (lambda r: sl.ALIF(tau_mem=8.0, tau_adapt=20.0, tau_syn=3.0, reset_fn=r, **_alif_tensors()), False),
    "ALIFSqueeze": (lambda r: sl.ALIFSqueeze(batch_size=B, tau_mem=8.0, tau_adapt=20.0, reset_fn=r), True),
    "ALIFRecurrent": (lambda r: sl.ALIFRecurrent(tau_mem=8.0, tau_adapt=20.0, rec_connect=_rec(), reset_fn=r), False),
}


def _alif_tensors() -> dict[str, torch.Tensor]:
    """ALIF keeps these as plain attributes: given as tensors, they can require grad."""
    return dict(spike_threshold=torch.tensor(1.0), adapt_scale=torch.tensor(1.8), min_v_mem=torch.tensor(-0.4))


NO_RESET = {"ExpLeak", "ExpLeakSqueeze"}


def test_every_neuron_layer_is_covered() -> None:
    """A new neuron layer in spikekit.layers fails here until it has a builder above."""
    stateful = {
        name
        for name in dir(sl)
        if inspect.isclass(obj := getattr(sl, name)) and issubclass(obj, spikekit.layers.StatefulLayer)
    }
    assert stateful - {"StatefulLayer"} == set(BUILDERS)


def trainable_tensors(layer: nn.Module) -> dict[str, torch.Tensor]:
    """Every floating tensor the layer computes with that can require grad: its Parameters (frozen ones too), the
    plain tensor attributes (ALIF's ``b0``, ``adapt_scale``, ``min_v_mem``) and the tensors held by its reset
    function."""
    found = {name: p for name, p in layer.named_parameters() if p.is_floating_point()}
    for name, value in vars(layer).items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            found[name] = value
    reset = getattr(layer, "reset_fn", None)
    if dataclasses.is_dataclass(reset):
        for field in dataclasses.fields(reset):
            value = getattr(reset, field.name)
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                found[f"reset_fn.{field.name}"] = value
    return found


def _input(squeezed: bool) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    x = torch.rand(B, T, N, generator=g) * 1.6 - 0.2
    return x.reshape(B * T, N) if squeezed else x


def _run(
    layer_name: str, reset: str, tensor: str, backend: str, fallback: str = "silent"
) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """(output, input gradient, gradient of ``tensor``) with only ``tensor`` and the input trainable."""
    build, squeezed = BUILDERS[layer_name]
    layer = build(None if layer_name in NO_RESET else _resets()[reset]())
    target = trainable_tensors(layer)[tensor]
    for p in trainable_tensors(layer).values():
        p.requires_grad_(False)
    target.requires_grad_(True)
    x = _input(squeezed).requires_grad_(True)
    with spikekit.use_backend(backend, fallback=fallback):  # type: ignore[arg-type]
        out = layer(x)
    weight = torch.linspace(-1.0, 1.0, out.numel()).reshape(out.shape)  # every output element matters differently
    gx, gp = torch.autograd.grad((out * weight).sum(), [x, target], allow_unused=True)
    return out.detach(), gx, gp


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for layer_name, (build, _) in BUILDERS.items():
        for reset in ("subtract",) if layer_name in NO_RESET else tuple(_resets()):
            layer = build(None if layer_name in NO_RESET else _resets()[reset]())
            cases += [(layer_name, reset, tensor) for tensor in trainable_tensors(layer)]
    return cases


CASES = _cases()


def _loadable(name: str) -> Any:
    try:
        compute.get_backend(name)
    except Exception as exc:  # e.g. the triton backend without the triton package
        return pytest.param(name, marks=pytest.mark.skip(reason=f"backend {name!r} cannot be loaded here: {exc}"))
    return name


OTHER_BACKENDS = [_loadable(n) for n in sorted(set(compute.available_backends()) - {compute.REFERENCE_BACKEND})]


def test_the_enumeration_sees_the_tensors_that_matter() -> None:
    tensors = {(layer, tensor) for layer, _, tensor in CASES}
    for expected in [("LIF", "tau_mem"), ("LIF", "tau_syn"), ("LIF", "spike_threshold"), ("LIF", "min_v_mem"),
                     ("LIFSqueeze", "alpha_mem"), ("ALIF", "tau_adapt"), ("ALIF", "adapt_scale"),
                     ("ALIF", "b0"), ("ALIF", "min_v_mem"),
                     ("IAF", "reset_fn.reset_value"), ("IAF", "reset_fn.subtract_value"),
                     ("LIFRecurrent", "rec_connect.1.weight")]:  # fmt: skip
        assert expected in tensors


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
@pytest.mark.parametrize("layer_name,reset,tensor", CASES, ids=["-".join(c) for c in CASES])
def test_gradient_of_every_trainable_tensor_matches_the_reference(layer_name, reset, tensor, backend) -> None:
    ref_out, ref_gx, ref_gp = _run(layer_name, reset, tensor, compute.REFERENCE_BACKEND)
    out, gx, gp = _run(layer_name, reset, tensor, backend)
    assert torch.equal(out, ref_out)
    torch.testing.assert_close(gx, ref_gx, rtol=1e-4, atol=1e-5)
    if ref_gp is None:
        assert gp is None or not gp.any()
    else:
        assert gp is not None, f"{backend}: no gradient for {layer_name}.{tensor}, the reference has one"
        torch.testing.assert_close(gp, ref_gp, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("reset", ["subtract-value", "reset-value", "reset-per-neuron"])
def test_fused_cpu_sends_a_trainable_reset_value_to_the_reference_with_the_fallback_warning(reset, monkeypatch):
    monkeypatch.setattr(compute, "_warned", set())
    name = "subtract_value" if reset.startswith("subtract") else "reset_value"
    with pytest.warns(BackendFallbackWarning, match=f"trainable {name}"):
        _, _, gp = _run("LIF", reset, f"reset_fn.{name}", "fused-cpu", fallback="warn")
    assert gp is not None and gp.abs().sum() > 0


@pytest.mark.parametrize("reset", ["subtract-value", "reset-value", "reset-per-neuron"])
def test_fused_cpu_runs_a_frozen_reset_tensor_itself(reset, monkeypatch) -> None:
    """A reset value held in a tensor that needs no gradient stays on the fused loop (no fallback) and is exact."""
    monkeypatch.setattr(compute, "_warned", set())
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackendFallbackWarning)
        out, gx, _ = _run("LIF", reset, "tau_mem", "fused-cpu", fallback="warn")
    ref_out, ref_gx, _ = _run("LIF", reset, "tau_mem", compute.REFERENCE_BACKEND)
    assert torch.equal(out, ref_out)
    torch.testing.assert_close(gx, ref_gx, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layer_name", ["IAF", "LIF", "ExpLeak", "ALIF"])
@pytest.mark.parametrize("shape", [(0, 5, N), (2, 5, 0)], ids=["empty-batch", "no-neurons"])
def test_empty_inputs_run_on_fused_cpu_as_on_the_reference(layer_name, shape, monkeypatch) -> None:
    monkeypatch.setattr(compute, "_warned", set())
    results = []
    for backend in (compute.REFERENCE_BACKEND, "fused-cpu"):
        layer = BUILDERS[layer_name][0](None if layer_name in NO_RESET else act.MembraneSubtract())
        x = torch.rand(shape, requires_grad=True)
        with spikekit.use_backend(backend, fallback="error"):  # no fallback: fused-cpu runs it
            out = layer(x)
        tau = [layer.tau_mem] if isinstance(layer.tau_mem, torch.Tensor) else []  # IAF has none
        gx, *gtau = torch.autograd.grad(out.sum(), [x, *tau], allow_unused=True)
        results.append((out.shape, gx.shape, layer.v_mem.shape, [None if g is None else float(g) for g in gtau]))
    assert results[0] == results[1]
