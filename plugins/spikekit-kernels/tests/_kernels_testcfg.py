"""Shared builders for the spikekit-kernels tests: random configurations of the LIF family as NeuronParams."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from spikekit.compute import NeuronParams

act = pytest.importorskip("spikekit.activation")

SURROGATES = ("SingleExponential", "Gaussian", "MultiGaussian", "Heaviside", "PeriodicExponential", "callable")
SPIKES = ("multi", "single", "max2", "maxnone")
RESETS = ("subtract", "subtract-value", "reset", "reset-value")
MODELS = ("iaf", "lif", "expleak", "alif")


def custom_surrogate(v: torch.Tensor, thr: torch.Tensor) -> torch.Tensor:
    """A user surrogate with no closed form known to the kernels (fast sigmoid)."""
    return 1.0 / (1.0 + 4.0 * (v - thr).abs()) ** 2


def make_config(
    model: str = "lif", *, syn: bool = False, norm: bool = False, spike: str = "multi", reset: str = "subtract",
    surrogate: str = "SingleExponential", floor: bool = False, record: bool = False, per_neuron: bool = False,
    trail: tuple[int, ...] = (5,), train: bool = True, dtype: torch.dtype = torch.float32, B: int = 3,
    threshold: float | str = 1.0,
) -> tuple[NeuronParams, dict[str, torch.Tensor]]:  # fmt: skip
    """A NeuronParams for ``model`` and a matching random initial state (fresh tensors on every call).

    ``threshold``: the spike threshold, or ``"mixed"`` for one per neuron, powers of two and others alternating."""
    g = torch.Generator().manual_seed(11)
    shape = trail if per_neuron else ()

    def alpha(tau: float) -> torch.Tensor:
        base = torch.full(shape, tau, dtype=torch.float32)
        if per_neuron:
            base = base + torch.rand(shape, generator=g) * tau
        return torch.exp(-1.0 / base).to(dtype).requires_grad_(train)

    spike_fn: Any = {"multi": act.MultiSpike, "single": act.SingleSpike, "max2": act.MaxSpike(2),
                     "maxnone": act.MaxSpike(None)}[spike]  # fmt: skip
    reset_fn: Any = {"subtract": act.MembraneSubtract(), "subtract-value": act.MembraneSubtract(subtract_value=0.7),
                     "reset": act.MembraneReset(), "reset-value": act.MembraneReset(reset_value=0.25)}[reset]  # fmt: skip
    sg: Any = custom_surrogate if surrogate == "callable" else getattr(act, surrogate)()
    kw: dict[str, Any] = dict(
        alpha_mem=alpha(8.0) if model != "iaf" else torch.tensor(1.0, dtype=dtype),
        alpha_syn=alpha(4.0) if syn else None,
        spike_threshold=_threshold(threshold, trail, dtype),
        spike_fn=spike_fn, reset_fn=reset_fn, surrogate_grad_fn=sg,
        min_v_mem=torch.tensor(-0.5, dtype=dtype) if floor else None,
        norm_input=norm, record_states=record, layer_name=f"Test{model.upper()}",
    )  # fmt: skip
    if model == "expleak":
        kw.update(spike_threshold=None, spike_fn=None, reset_fn=None, surrogate_grad_fn=None)
    if model == "alif":
        kw.update(alpha_adapt=alpha(10.0), adapt_scale=1.8)
    params = NeuronParams(**kw)
    st: dict[str, torch.Tensor] = {"v_mem": torch.rand(B, *trail, generator=g, dtype=dtype) * 0.5}
    if syn:
        st["i_syn"] = torch.rand(B, *trail, generator=g, dtype=dtype) * 0.3
    if model == "alif":
        st["b"] = torch.rand(B, *trail, generator=g, dtype=dtype) * 0.2
        st["spike_threshold"] = torch.ones(B, *trail, dtype=dtype)
    return params, st


def _threshold(threshold: float | str, trail: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    if threshold == "mixed":
        values = torch.tensor([1.0, 0.75, 0.5, 0.3, 2.0, 1.5], dtype=dtype)
        n = math.prod(trail)
        return values.repeat(n // len(values) + 1)[:n].reshape(trail)
    return torch.tensor(float(threshold), dtype=dtype)


def alphas(params: NeuronParams) -> list[torch.Tensor]:
    return [a for a in (params.alpha_mem, params.alpha_syn, params.alpha_adapt) if a is not None and a.requires_grad]


def random_input(B: int, T: int, trail: tuple[int, ...], seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(B, T, *trail, generator=g, dtype=dtype) * 2.4 - 0.5).mul(1.0 + math.sin(seed))
