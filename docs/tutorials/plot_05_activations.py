"""
Changing activations: spike, reset and surrogate
================================================

A neuron layer's behaviour at the threshold is three choices, each an object passed to the layer:

* ``spike_fn`` — how many spikes a potential produces (:class:`~spikekit.activation.MultiSpike`,
  :class:`~spikekit.activation.SingleSpike`, :class:`~spikekit.activation.MaxSpike`);
* ``reset_fn`` — what the potential becomes after a spike (:class:`~spikekit.activation.MembraneSubtract`,
  :class:`~spikekit.activation.MembraneReset`);
* ``surrogate_grad_fn`` — the derivative used in the backward pass (:class:`~spikekit.activation.SingleExponential`,
  :class:`~spikekit.activation.Gaussian`, :class:`~spikekit.activation.FastSigmoid`, ...).
"""

# %%
# Spike and reset functions
# -------------------------
# One IAF neuron driven by a ramp; the spike function decides how many spikes a large potential gives, the reset
# what is left.
import matplotlib.pyplot as plt
import torch

import spikekit.activation as sa
import spikekit.layers as sl

T = 30
ramp = torch.linspace(0.0, 2.5, T).reshape(1, T, 1)  # (batch, time, neurons)

combos = {
    "MultiSpike + MembraneSubtract (default)": dict(spike_fn=sa.MultiSpike, reset_fn=sa.MembraneSubtract()),
    "SingleSpike + MembraneSubtract": dict(spike_fn=sa.SingleSpike, reset_fn=sa.MembraneSubtract()),
    "SingleSpike + MembraneReset": dict(spike_fn=sa.SingleSpike, reset_fn=sa.MembraneReset()),
    "MaxSpike(2) + MembraneSubtract": dict(spike_fn=sa.MaxSpike(2), reset_fn=sa.MembraneSubtract()),
}
fig, axes = plt.subplots(len(combos), 1, sharex=True, figsize=(7, 7))
for ax, (label, kwargs) in zip(axes, combos.items()):
    layer = sl.IAF(record_states=True, **kwargs)
    with torch.no_grad():
        spikes = layer(ramp)
    v = layer.recordings["v_mem"].flatten()
    ax.plot(v, label="v_mem (after reset)")
    ax.bar(range(T), spikes.flatten(), color="C3", alpha=0.5, label="spikes")
    ax.set_title(label, fontsize=9)
    print(f"{label:42s} total spikes {int(spikes.sum())}")
axes[0].legend(fontsize=8)
axes[-1].set_xlabel("time step")
fig.tight_layout()

# %%
# Surrogate gradients
# -------------------
# The spike's true derivative is zero almost everywhere; the surrogate decides how much gradient a neuron gets as
# a function of its distance to the threshold. We measure it through a layer: the gradient of the spike count
# with respect to a constant input, over input amplitudes.
surrogates = {
    "SingleExponential": sa.SingleExponential(),
    "Gaussian": sa.Gaussian(),
    "PeriodicExponential": sa.PeriodicExponential(),
    "FastSigmoid": sa.FastSigmoid(),
}
amplitudes = torch.linspace(0.0, 2.0, 101)
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, surrogate in surrogates.items():
    layer = sl.IAF(surrogate_grad_fn=surrogate)
    x = amplitudes.reshape(-1, 1, 1).repeat(1, 1, 1).requires_grad_(True)  # one step, one neuron per amplitude
    layer(x).sum().backward()
    ax.plot(amplitudes, x.grad.flatten(), label=name)
ax.axvline(1.0, color="k", lw=0.5, ls="--")
ax.set(xlabel="input (threshold at 1)", ylabel="d spikes / d input", title="surrogate gradient through IAF")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# Swapping activations in an existing model
# -----------------------------------------
# The activations are attributes of the layer: change them in place (for example to fine-tune a trained network
# with a different surrogate, or to evaluate it with one spike per step as a chip would).
model = torch.nn.Sequential(torch.nn.Linear(4, 4), sl.LIF(tau_mem=10.0), torch.nn.Linear(4, 2), sl.LIF(tau_mem=10.0))
for layer in model:
    if isinstance(layer, sl.LIF):
        layer.spike_fn = sa.SingleSpike
        layer.surrogate_grad_fn = sa.Gaussian()
print(model[1].spike_fn, model[1].surrogate_grad_fn)
