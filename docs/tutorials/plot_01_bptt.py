"""
Training a spiking network by BPTT
==================================

A spiking network is trained like any recurrent network: run it over the time steps, compare its output with the
target, and back-propagate through time (BPTT). The one obstacle, the spike's zero-almost-everywhere derivative,
is replaced by a *surrogate gradient* during the backward pass. spikekit's neuron layers do this for you.

We classify scikit-learn's 8x8 digits, presented as rate-coded spike trains.
"""

# %%
# Data: digits as spike trains
# ----------------------------
# Each pixel (0..16) becomes a firing probability; at every time step a pixel spikes with that probability.
# Layout is ``[batch, time, features]`` (spikekit's ``[B, T, ...]``).
import matplotlib.pyplot as plt
import torch
from sklearn.datasets import load_digits
from torch import nn

import spikekit
import spikekit.layers as sl
from spikekit.activation import SingleExponential

torch.manual_seed(0)
digits = load_digits()
images = torch.tensor(digits.data, dtype=torch.float32) / 16.0  # (1797, 64) in [0, 1]
labels = torch.tensor(digits.target)
n_train = 1400
T = 16


def to_spikes(x: torch.Tensor, steps: int = T) -> torch.Tensor:
    """Bernoulli rate coding: (N, 64) intensities -> (N, steps, 64) spikes."""
    return (torch.rand(x.shape[0], steps, x.shape[1]) < x.unsqueeze(1)).float()


x_train, y_train = images[:n_train], labels[:n_train]
x_test, y_test = images[n_train:], labels[n_train:]

fig, axes = plt.subplots(1, 2, figsize=(8, 2.5))
axes[0].imshow(images[0].reshape(8, 8), cmap="gray_r")
axes[0].set_title(f"digit {labels[0].item()}")
axes[1].imshow(to_spikes(images[:1])[0].T, aspect="auto", cmap="gray_r", interpolation="nearest")
axes[1].set(xlabel="time step", ylabel="pixel", title="its spike train")
fig.tight_layout()

# %%
# The model
# ---------
# Linear layers carry the weights; LIF layers keep their membrane potential inside the module (so they drop
# into ``nn.Sequential``) and emit spikes. ``SingleExponential`` is the surrogate used in the backward pass.
# ``norm_input=False`` adds the input current to the membrane unscaled (by default, as in sinabs, it is scaled by
# ``1 - exp(-1/tau_mem)``, which with these small weights would keep the network silent at the start).
model = nn.Sequential(
    nn.Linear(64, 64),
    sl.LIF(tau_mem=10.0, norm_input=False, surrogate_grad_fn=SingleExponential()),
    nn.Linear(64, 10),
    sl.LIF(tau_mem=10.0, norm_input=False, surrogate_grad_fn=SingleExponential()),
)
print(model)

# %%
# Training loop
# -------------
# The output neuron that spikes most is the prediction; the loss is a cross-entropy on the spike counts.
# Before each batch (an independent set of sequences) the states are reset with :func:`spikekit.reset_states`.
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
losses, accuracies = [], []


def evaluate() -> float:
    with torch.no_grad():
        spikekit.reset_states(model)
        counts = model(to_spikes(x_test)).sum(dim=1)
    return (counts.argmax(dim=1) == y_test).float().mean().item()


for epoch in range(3):
    order = torch.randperm(n_train)
    for start in range(0, n_train, 100):
        idx = order[start : start + 100]
        spikekit.reset_states(model)
        counts = model(to_spikes(x_train[idx])).sum(dim=1)  # (batch, 10) spike counts
        loss = nn.functional.cross_entropy(counts, y_train[idx])
        optimizer.zero_grad()
        loss.backward()  # BPTT through the surrogate gradient
        optimizer.step()
        losses.append(loss.item())
    accuracies.append(evaluate())
    print(f"epoch {epoch}: loss {losses[-1]:.3f}, test accuracy {accuracies[-1]:.3f}")

# %%
# Learning curve
# --------------
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(losses)
ax.set(xlabel="batch", ylabel="cross-entropy", title=f"final test accuracy {accuracies[-1]:.1%}")
fig.tight_layout()

# %%
# Looking inside: membrane potential and spikes
# ---------------------------------------------
# ``record_states=True`` keeps the membrane potential of every time step in ``layer.recordings``.
# The trained hidden layer has no parameters of its own, so a new LIF layer with the same arguments and
# ``record_states=True`` behaves exactly like it on the trained first layer's output.
hidden = sl.LIF(tau_mem=10.0, norm_input=False, record_states=True)
with torch.no_grad():
    spikekit.reset_states(hidden)
    out = hidden(model[0](to_spikes(x_test[:1])))
v = hidden.recordings["v_mem"][0, :, :5]
fig, axes = plt.subplots(2, 1, sharex=True, figsize=(6, 4))
axes[0].plot(v)
axes[0].axhline(1.0, color="k", lw=0.5, ls="--")
axes[0].set(ylabel="v_mem (5 neurons)")
axes[1].imshow(out[0].T[:40], aspect="auto", cmap="gray_r", interpolation="nearest")
axes[1].set(xlabel="time step", ylabel="neuron")
fig.tight_layout()
