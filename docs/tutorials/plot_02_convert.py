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
import html

import matplotlib.pyplot as plt
import torch
from sklearn.datasets import load_digits
from torch import nn

import spikekit


class Say(str):
    """A sentence built from this run's numbers; the documentation shows it as text under the cell."""

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self)}</p>"


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

first, third = accuracy_over_time[0].item(), accuracy_over_time[T // 3 - 1].item()
trend = "it rises as the spike counts accumulate" if first < third - 0.05 else "a few steps already suffice here"
Say(
    f"After {T} steps the converted network classifies {accuracy_over_time[-1]:.1%} of the {B} test digits "
    f"correctly, against {ann_accuracy:.1%} for the ANN it came from. After one step it is at {first:.1%}, after "
    f"{T // 3} steps at {third:.1%}: {trend}."
)

# %%
# Compare the output layer with the ANN
# -------------------------------------
# :meth:`~spikekit.network.Network.compare_activations` would run both models layer by layer; here we compare the
# output layer by hand. ``IAFSqueeze``'s default spike function is :class:`~spikekit.activation.MultiSpike`, as in
# sinabs: in one step a neuron emits as many spikes as whole thresholds fit into its membrane potential,
# ``floor(v / threshold)``, and the subtractive reset takes that many thresholds off. So a neuron driven by a
# constant current ``x`` fires on average ``max(x, 0) / threshold`` spikes per step, with no upper bound: its rate
# approximates the ReLU of the ANN's output (the threshold is 1 here), not a probability. (With
# ``spike_fn=spikekit.activation.SingleSpike`` a neuron fires at most once per step and the rate saturates at 1.)
with torch.no_grad():
    ann_out = ann(x_test).clamp(min=0.0)  # ReLU of the logits
rate = out.mean(dim=1)  # spikes per step, per test digit and output neuron
top = float(max(ann_out.max(), rate.max())) * 1.05
fig, ax = plt.subplots(figsize=(4, 4))
ax.scatter(ann_out.flatten(), rate.flatten(), s=2, alpha=0.4)
ax.plot([0, top], [0, top], "k--", lw=0.8)
ax.set(xlabel="ANN output, ReLU of the logit", ylabel="SNN spikes per step", title="output layer")
fig.tight_layout()

# %%
# What the plot shows, in numbers from this run:
many = (rate > 1).float().mean().item()
error = (rate - ann_out).abs().mean().item()
Say(
    f"The output neurons fire up to {rate.max():.1f} spikes per step (the ANN's largest ReLU output is "
    f"{ann_out.max():.1f}); {many:.1%} of the output rates are above one spike per step. On average the rate is "
    f"{error:.2f} spikes per step away from the ReLU output: the points lie along the diagonal, and "
    f"{T} steps leave a rounding error of up to 1/{T} per neuron."
)
