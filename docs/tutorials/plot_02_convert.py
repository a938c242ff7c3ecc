"""
Converting an ANN to an SNN
===========================

A ReLU network trained as usual becomes a spiking network by replacing every ReLU with an integrate-and-fire
layer: with a constant input, an IAF neuron's firing rate approximates the ReLU's output (divided by the
threshold). :func:`spikekit.from_model` does the replacement and wraps the result in a
:class:`spikekit.network.Network` that keeps both models side by side.
"""

# %%
# Train a small ANN
# -----------------
import matplotlib.pyplot as plt
import torch
from sklearn.datasets import load_digits
from torch import nn

import spikekit

torch.manual_seed(0)
digits = load_digits()
images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (1797, 1, 8, 8)
labels = torch.tensor(digits.target)
x_train, y_train, x_test, y_test = images[:1400], labels[:1400], images[1400:], labels[1400:]

ann = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1, bias=False),
    nn.ReLU(),
    nn.AvgPool2d(2),
    nn.Flatten(),
    nn.Linear(8 * 4 * 4, 10, bias=False),
)
optimizer = torch.optim.Adam(ann.parameters(), lr=1e-2)
for _epoch in range(10):
    for start in range(0, 1400, 100):
        loss = nn.functional.cross_entropy(ann(x_train[start : start + 100]), y_train[start : start + 100])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
with torch.no_grad():
    ann_accuracy = (ann(x_test).argmax(1) == y_test).float().mean().item()
print(f"ANN test accuracy: {ann_accuracy:.3f}")

# %%
# Convert
# -------
# Squeeze layers take batch and time folded into one dimension, ``(B*T, C, H, W)``, so that the convolutions
# in between run unchanged; ``batch_size`` tells them how to unfold it. The ANN ends in logits (no ReLU), so
# ``add_spiking_output=True`` adds a spiking layer after the last linear layer: the output is spikes too.
B, T = len(x_test), 30
snn = spikekit.from_model(ann, input_shape=(1, 8, 8), batch_size=B, add_spiking_output=True)
print(snn.spiking_model)

# %%
# Run it over time
# ----------------
# The input is the image as a constant current for T steps. The prediction is the output neuron that fires most.
x = x_test.unsqueeze(1).repeat(1, T, 1, 1, 1)  # (B, T, 1, 8, 8)
with torch.no_grad():
    snn.reset_states()
    out = snn(x.flatten(0, 1)).unflatten(0, (B, T))  # (B, T, 10) spikes
counts = out.cumsum(dim=1)  # spike counts after each step
accuracy_over_time = (counts.argmax(dim=2) == y_test[:, None]).float().mean(dim=0)
print(f"SNN test accuracy after {T} steps: {accuracy_over_time[-1]:.3f} (ANN {ann_accuracy:.3f})")

fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(range(1, T + 1), accuracy_over_time, label="SNN")
ax.axhline(ann_accuracy, color="k", ls="--", lw=0.8, label="ANN")
ax.set(xlabel="time steps", ylabel="test accuracy", ylim=(0, 1))
ax.legend()
fig.tight_layout()

# %%
# Compare the layers' activity
# ----------------------------
# :meth:`~spikekit.network.Network.compare_activations` would run both models; here we compare by hand: the
# output layer's spike rate against the ANN's output (its logits clipped to [0, 1]: a neuron fires at most once
# per step on average here, and not at all for a negative drive).
with torch.no_grad():
    ann_out = ann(x_test).clamp(min=0.0, max=1.0)
rate = out.mean(dim=1)
fig, ax = plt.subplots(figsize=(4, 4))
ax.scatter(ann_out.flatten(), rate.flatten(), s=2, alpha=0.4)
ax.plot([0, 1], [0, 1], "k--", lw=0.8)
ax.set(xlabel="ANN output (clipped to [0, 1])", ylabel="SNN spike rate", title="output layer")
fig.tight_layout()
