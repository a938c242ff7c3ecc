"""``torch.autograd.gradcheck`` in float64 for every spike function's surrogate path and every fused kernel.

Spike functions: spikes are piecewise constant, so the numerical side of the check is built from the surrogate's
own antiderivative: ``f(v) = S(v) − S(v).detach() + Φ(v).detach()`` has the value ``Φ(v)`` (whose finite
differences give ``surrogate(v, θ)``, Φ integrated numerically) and, through autograd, exactly the spike function's
backward pass. gradcheck then verifies the whole Jacobian: the backward is ``surrogate(v, θ)`` at the right ``v``,
element by element, with nothing leaking across elements. Points are kept away from the surrogates' kinks.

Kernels: with a surrogate that is zero everywhere, the BPTT gradient of a spiking layer is the true derivative of
its (piecewise smooth) function, so finite differences apply directly: gradcheck over the input, the initial
state and every decay factor, for each configuration the fused op covers (and, as a control, the reference loop).
"""

from __future__ import annotations

import sys

import pytest
import torch

pytest.importorskip("spikekit_neurons")

import spikekit
from spikekit.compute import NeuronParams, get_backend

act = pytest.importorskip("spikekit.activation")


L = sys.modules["spikekit_reliability_layers"]  # loaded by conftest.py

SURROGATES = ["ATan", "Erf", "FastSigmoid", "Gaussian", "Heaviside", "MultiGaussian", "PeriodicExponential",
              "PiecewiseLinear", "Rectangular", "Sigmoid", "SingleExponential", "StraightThrough", "SuperSpike",
              "Triangle", "TanhSurrogate"]  # fmt: skip
SPIKE_FNS = {"MultiSpike": lambda: act.MultiSpike, "SingleSpike": lambda: act.SingleSpike,
             "MaxSpike(2)": lambda: act.MaxSpike(2)}  # fmt: skip
# away (> 0.1) from 0, θ = 1 and θ ± 0.5, where the surrogates have kinks or jumps
POINTS = [0.13, 0.37, 0.71, 0.86, 1.17, 1.29, 1.62, 2.33, -0.23, -0.61]


def _antiderivative(surrogate, v: torch.Tensor, thr: torch.Tensor, width: float = 0.01, n: int = 129):
    """Φ(v) = ∫_{c−width}^{v} surrogate(u, θ) du per element (c: the point gradcheck starts from), trapezoid rule."""
    start = (v.detach() - width).unsqueeze(-1)  # fixed lower limit
    s = torch.linspace(0.0, 1.0, n, dtype=v.dtype)
    grid = start + (v.unsqueeze(-1) - start) * s  # (..., n), moves with v
    return torch.trapezoid(surrogate(grid, thr), grid, dim=-1)


@pytest.mark.parametrize("surrogate_name", SURROGATES)
@pytest.mark.parametrize("spike_name", list(SPIKE_FNS))
def test_spike_function_backward_is_the_surrogate(spike_name: str, surrogate_name: str) -> None:
    spike_fn = SPIKE_FNS[spike_name]()
    surrogate = getattr(act, surrogate_name)()
    thr = torch.tensor(1.0, dtype=torch.float64)
    v0 = torch.tensor(POINTS, dtype=torch.float64)
    lower = (v0 - 0.01).unsqueeze(-1)

    def f(v: torch.Tensor) -> torch.Tensor:
        spikes = spike_fn.apply(v, thr, surrogate)
        s = torch.linspace(0.0, 1.0, 129, dtype=v.dtype)
        grid = lower + (v.unsqueeze(-1) - lower) * s
        phi = torch.trapezoid(surrogate(grid, thr), grid, dim=-1)
        return spikes - spikes.detach() + phi.detach()

    v = v0.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(f, (v,), eps=1e-6, atol=1e-5, rtol=1e-4)
    # and the surrogate really is non-trivial at these points for most surrogates (the check is not vacuous)
    if surrogate_name not in ("Heaviside",):
        assert surrogate(v0, thr).abs().sum() > 0


def _zero_surrogate(v: torch.Tensor, thr) -> torch.Tensor:
    return torch.zeros_like(v)


KERNEL_CONFIGS = {
    "iaf-multi-subtract": dict(alpha_mem=1.0, norm=False),
    "lif-norm": dict(alpha_mem=0.8, norm=True),
    "lif-syn": dict(alpha_mem=0.8, alpha_syn=0.6, norm=True),
    "lif-floor": dict(alpha_mem=0.9, norm=False, floor=-0.5),
    "lif-single-reset": dict(alpha_mem=0.85, norm=False, spike="single", reset="reset"),
    "lif-maxspike": dict(alpha_mem=0.85, norm=False, spike="max2"),
    "leaky-integrator": dict(alpha_mem=0.7, norm=True, spike=None),
    "alif": dict(alpha_mem=0.85, norm=False, adapt=0.9),
    "alif-syn": dict(alpha_mem=0.85, alpha_syn=0.8, norm=False, adapt=0.8),
}


def _kernel_fn(cfg: dict, backend_name: str, shape=(2, 6, 3)):
    spike = cfg.get("spike", "multi")
    spike_fn = {"multi": act.MultiSpike, "single": act.SingleSpike, "max2": act.MaxSpike(2), None: None}[spike]
    reset_fn = (
        None if spike is None else (act.MembraneReset() if cfg.get("reset") == "reset" else act.MembraneSubtract())
    )
    adaptive = "adapt" in cfg
    B, T, N = shape
    gen = torch.Generator().manual_seed(7)
    x = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2.4 - 0.4).requires_grad_(True)
    v0 = (torch.rand(B, N, generator=gen, dtype=torch.float64) * 0.5).requires_grad_(True)
    leaves = {"x": x, "v_mem": v0, "alpha_mem": torch.tensor(cfg["alpha_mem"], dtype=torch.float64, requires_grad=True)}
    if "alpha_syn" in cfg:
        leaves["i_syn"] = (torch.rand(B, N, generator=gen, dtype=torch.float64) * 0.3).requires_grad_(True)
        leaves["alpha_syn"] = torch.tensor(cfg["alpha_syn"], dtype=torch.float64, requires_grad=True)
    if adaptive:
        leaves["b"] = (torch.rand(B, N, generator=gen, dtype=torch.float64) * 0.3).requires_grad_(True)
        leaves["alpha_adapt"] = torch.tensor(cfg["adapt"], dtype=torch.float64, requires_grad=True)
    if cfg["alpha_mem"] == 1.0:  # IAF: α_mem fixed
        leaves["alpha_mem"] = leaves["alpha_mem"].detach()
    names = [k for k, t in leaves.items() if t.requires_grad]
    backend = get_backend(backend_name)

    def run(*tensors):
        t = dict(zip(names, tensors))
        get = lambda k: t.get(k, leaves[k])
        state = {"v_mem": get("v_mem")}
        if "alpha_syn" in cfg:
            state["i_syn"] = get("i_syn")
        if adaptive:
            state["b"] = get("b")
            state["spike_threshold"] = torch.ones(B, N, dtype=torch.float64)
        params = NeuronParams(
            alpha_mem=get("alpha_mem"), alpha_syn=get("alpha_syn") if "alpha_syn" in cfg else None,
            spike_threshold=torch.tensor(1.0, dtype=torch.float64), spike_fn=spike_fn, reset_fn=reset_fn,
            surrogate_grad_fn=_zero_surrogate if spike is not None else None,
            min_v_mem=torch.tensor(cfg["floor"], dtype=torch.float64) if "floor" in cfg else None,
            norm_input=cfg["norm"], alpha_adapt=get("alpha_adapt") if adaptive else None,
            adapt_scale=1.8 if adaptive else None, layer_name="gradcheck",
        )  # fmt: skip
        if backend_name != "torch":
            assert backend.unsupported_reason(get("x"), state, params) is None
        spikes, final, _ = backend.run(get("x"), state, params)
        return (spikes, *final.values())

    return run, tuple(leaves[k] for k in names)


@pytest.mark.parametrize("backend", L.backends())
@pytest.mark.parametrize("config", list(KERNEL_CONFIGS))
def test_kernel_gradcheck_float64(config: str, backend: str) -> None:
    fn, inputs = _kernel_fn(KERNEL_CONFIGS[config], backend)
    outs = fn(*inputs)
    if KERNEL_CONFIGS[config].get("spike", "multi") is not None:
        assert outs[0].sum() > 0, "no spike: the reset path would go unchecked"
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


def test_fused_cpu_is_installed_here() -> None:
    """The gradchecks above cover fused-cpu only when spikekit-kernels is installed; in `nox -s tests` it is."""
    if "fused-cpu" not in spikekit.available_backends():
        pytest.skip("spikekit-kernels is not installed")
    assert "fused-cpu" in L.backends()
