"""End to end: a Linear -> spiking layer trained a few SGD steps with each surrogate lowers a firing-rate loss.

Two variants: one on the core alone (``SurrogateSpikeFunction`` in a hand-written LIF loop, runs with no other
plugin), and one with ``spikekit.layers.LIF`` (skipped when spikekit-neurons is not installed).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import spikekit.activation as sa
from spikekit.protocols import SurrogateSpikeFunction
from spikekit_surrogates.plugin import SURROGATES

NAMES = [name for name, _, _ in SURROGATES if name != "SuperSpike"]  # SuperSpike is FastSigmoid
TARGET_RATE = 0.5


class _SingleSpike(SurrogateSpikeFunction):
    @staticmethod
    def spike_rule(v_mem, spike_threshold):
        return (v_mem >= spike_threshold).to(v_mem.dtype)


class _HandWrittenLIF(nn.Module):
    """``v <- alpha v + x; s = 1[v >= thr]; v <- v - s.detach() thr`` over ``x`` of shape ``(B, T, N)``.

    The reset is detached so that the gradient reaching the weights is shaped by the surrogate alone.
    """

    def __init__(self, surrogate, alpha: float = 0.9, threshold: float = 1.0):
        super().__init__()
        self.surrogate = surrogate
        self.alpha = alpha
        self.register_buffer("threshold", torch.tensor(threshold))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = torch.zeros_like(x[:, 0])  # (B, N)
        spikes = []
        for t in range(x.shape[1]):
            v = self.alpha * v + x[:, t]
            s = _SingleSpike.apply(v, self.threshold, self.surrogate)
            v = v - s.detach() * self.threshold
            spikes.append(s)
        return torch.stack(spikes, dim=1)  # (B, T, N)


def _data() -> torch.Tensor:
    return torch.rand(16, 20, 5, generator=torch.Generator().manual_seed(0))  # (B, T, features)


def _linear() -> nn.Linear:
    lin = nn.Linear(5, 3)
    with torch.no_grad():
        lin.weight.uniform_(0.0, 0.1, generator=torch.Generator().manual_seed(1))
        lin.bias.zero_()
    return lin


def _rate_loss(spikes: torch.Tensor) -> torch.Tensor:
    rate = spikes.mean(dim=(0, 1))  # (N,)
    return ((rate - TARGET_RATE) ** 2).sum()


def _train(
    model: nn.Sequential, x: torch.Tensor, steps: int, lr: float, reset=None
) -> tuple[list[float], torch.Tensor]:
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses, first_bias_grad = [], None
    for _ in range(steps):
        if reset is not None:
            reset()
        opt.zero_grad()
        loss = _rate_loss(model(x))
        loss.backward()
        if first_bias_grad is None:
            first_bias_grad = model[0].bias.grad.clone()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        if reset is not None:
            reset()
        losses.append(_rate_loss(model(x)).item())
    return losses, first_bias_grad


def _check(losses: list[float], first_bias_grad: torch.Tensor, name: str) -> None:
    # the untrained layer fires far too little: every surrogate must ask for more drive (d loss / d bias < 0) ...
    assert losses[0] > 0.5, losses
    assert (first_bias_grad < 0).all(), (name, first_bias_grad)
    # ... and following it lowers the loss: after one step, at the end, and by more than half at some point
    assert losses[1] < losses[0] and losses[-1] < losses[0], (name, losses)
    assert min(losses) < 0.5 * losses[0], (name, losses)


@pytest.mark.parametrize("name", NAMES)
def test_core_only_lif_loop_learns_with_each_surrogate(name):
    sg = getattr(sa, name)()
    model = nn.Sequential(_linear(), _HandWrittenLIF(sg))
    weight_before = model[0].weight.detach().clone()
    losses, first_bias_grad = _train(model, _data(), steps=10, lr=0.05)
    _check(losses, first_bias_grad, name)
    assert (model[0].weight - weight_before).sum() > 0  # the weights grew, as the loss asks


def test_a_user_lambda_trains_the_same_way():
    model = nn.Sequential(_linear(), _HandWrittenLIF(lambda v, thr: 1.0 / (1.0 + 10.0 * (v - thr).abs()) ** 2))
    losses, first_bias_grad = _train(model, _data(), steps=10, lr=0.05)
    _check(losses, first_bias_grad, "lambda")


# ------------------------------------------------------------------------------ with spikekit-neurons' LIF
def _lif_class():
    import spikekit.layers as sl

    try:
        return sl.LIF
    except Exception as exc:  # not installed (PluginNotInstalledError), or its plugin failed to load
        pytest.skip(f"spikekit.layers.LIF is not available: {type(exc).__name__}: {exc}")


# Per-surrogate learning rates for the sinabs-style LIF, whose reset passes gradient through the spikes (1 - thr *
# sg(v) per step): surrogates with a tall peak (Sigmoid: 6.25) need a smaller step.
LAYER_LR = {"Sigmoid": 0.01, "SingleExponential": 0.02, "Heaviside": 0.02, "StraightThrough": 0.02}


@pytest.mark.parametrize("name", NAMES)
def test_spikekit_lif_layer_learns_with_each_surrogate(name):
    lif_cls = _lif_class()
    sg = getattr(sa, name)()
    lif = lif_cls(tau_mem=-1.0 / math.log(0.9), norm_input=False, surrogate_grad_fn=sg, spike_fn=sa.SingleSpike)
    model = nn.Sequential(_linear(), lif)
    losses, first_bias_grad = _train(model, _data(), steps=10, lr=LAYER_LR.get(name, 0.05), reset=lif.reset_states)
    _check(losses, first_bias_grad, name)
