"""The time loop sums the gradient of a decay factor in the order of the step-by-step equations.

``lif_forward`` / ``alif_forward`` must give the decay factors (hence ``tau_mem``, ``tau_adapt``) the same gradient,
bit for bit, as calling ``lif_forward_single`` / ``alif_forward_single`` once per step: each step computes its own
``1 - alpha`` (as sinabs does). Computing ``1 - alpha`` once per call sums the steps' contributions in another
order, and the float32 gradient then differs in the last bits.
"""

from __future__ import annotations

import torch

from spikekit_neurons.functional import alif_forward, alif_forward_single, lif_forward, lif_forward_single
from spikekit_neurons.resets import MembraneSubtract
from spikekit_neurons.spike_functions import MultiSpike, SingleSpike
from spikekit_surrogates import SingleExponential

X = torch.rand(3, 60, 8, generator=torch.Generator().manual_seed(0)) * 2
W = torch.rand(8, generator=torch.Generator().manual_seed(1))


def _alphas(*taus: float) -> list[torch.Tensor]:
    return [torch.exp(-1.0 / torch.tensor(t)).requires_grad_(True) for t in taus]


def test_lif_loop_gives_alpha_the_stepwise_gradient():
    grads = []
    for loop in (True, False):
        alpha_mem, alpha_syn = _alphas(10.0, 5.0)
        state = {"v_mem": torch.zeros(3, 8), "i_syn": torch.zeros(3, 8)}
        args = (1.0, MultiSpike, MembraneSubtract(), SingleExponential(), None, True)
        if loop:
            out = lif_forward(X, alpha_mem, alpha_syn, state, *args)[0]
        else:
            steps = []
            for t in range(X.shape[1]):
                spikes, state = lif_forward_single(X[:, t], alpha_mem, alpha_syn, state, *args)
                steps.append(spikes)
            out = torch.stack(steps, 1)
        (out * W).sum().backward()
        grads.append((alpha_mem.grad, alpha_syn.grad))
    assert grads[0][0] != 0 and all(torch.equal(a, b) for a, b in zip(*grads))


def test_alif_loop_gives_alpha_the_stepwise_gradient():
    grads = []
    for loop in (True, False):
        alpha_mem, alpha_adapt = _alphas(10.0, 20.0)
        state = {"v_mem": torch.zeros(3, 8), "b": torch.zeros(3, 8), "spike_threshold": torch.ones(3, 8)}
        head = (alpha_mem, alpha_adapt, None, 1.8)
        tail = (SingleSpike, MembraneSubtract(), SingleExponential(), None, 1.0, True)
        if loop:
            out = alif_forward(X, *head, state, *tail)[0]
        else:
            steps = []
            for t in range(X.shape[1]):
                spikes, state = alif_forward_single(X[:, t], *head, state, *tail)
                steps.append(spikes)
            out = torch.stack(steps, 1)
        (out * W).sum().backward()
        grads.append((alpha_mem.grad, alpha_adapt.grad))
    assert grads[0][1] != 0 and all(torch.equal(a, b) for a, b in zip(*grads))
