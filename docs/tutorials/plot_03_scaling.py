"""
Scaling parameters for rate-coded conversion
============================================

A converted network encodes each ReLU activation as a firing rate. Two things go wrong when the scale is off:

* activations much **smaller** than the threshold need many time steps before a neuron fires at all;
* activations **larger** than the threshold ask for more than one spike per step, which a neuron limited to one
  spike per step (``SingleSpike``, as on most chips) cannot give: it saturates.

Data-based weight normalisation, :func:`spikekit.utils.normalize_weights`, rescales each layer so that its
activations peak near 1 — the threshold. We compare three scalings of the same trained network.
"""

# %%
# A trained ANN
# -------------
import copy
import html

import matplotlib.pyplot as plt
import torch
from sklearn.datasets import load_digits
from torch import nn

import spikekit
from spikekit.activation import SingleSpike


class Say(str):
    """A sentence built from this run's numbers; the documentation shows it as text under the cell."""

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self)}</p>"


torch.manual_seed(0)
digits = load_digits()
images = torch.tensor(digits.data, dtype=torch.float32) / 16.0
labels = torch.tensor(digits.target)
x_train, y_train, x_test, y_test = images[:1400], labels[:1400], images[1400:], labels[1400:]

ann = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
optimizer = torch.optim.Adam(ann.parameters(), lr=5e-3)
for _epoch in range(20):
    for start in range(0, 1400, 100):
        loss = nn.functional.cross_entropy(ann(x_train[start : start + 100]), y_train[start : start + 100])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
with torch.no_grad():
    ann_accuracy = (ann(x_test).argmax(1) == y_test).float().mean().item()
print(f"ANN test accuracy: {ann_accuracy:.3f}")

# %%
# What the ReLUs output
# ---------------------
# :func:`spikekit.utils.get_activations` returns the activations of named layers for a batch.
raw = spikekit.utils.get_activations(ann, x_train[:500], name_list=["1", "3"])
for name, act in zip(["1", "3"], raw):
    print(f"layer {name}: 99th percentile {torch.tensor(act).quantile(0.99):.2f}, max {act.max():.2f}")

# %%
# Three scalings
# --------------
# ``normalize_weights(ann, data, output_layers, param_layers)`` divides each parameter layer's weights and bias by
# the 99th percentile of the activation after it, layer by layer.
normalized = copy.deepcopy(ann)
spikekit.utils.normalize_weights(normalized, x_train[:500], output_layers=["1", "3"], param_layers=["0", "2"])

too_small = copy.deepcopy(normalized)
too_large = copy.deepcopy(normalized)
with torch.no_grad():
    too_small[0].weight.mul_(0.2), too_small[0].bias.mul_(0.2)
    too_large[0].weight.mul_(4.0), too_large[0].bias.mul_(4.0)
norm_act = spikekit.utils.get_activations(normalized, x_train[:500], name_list=["1", "3"])
print("after normalize_weights, 99th percentiles:", [round(float(torch.tensor(a).quantile(0.99)), 2) for a in norm_act])

# %%
# Convert with one spike per step and run
# ---------------------------------------
T = 40


def accuracy_over_time(model: nn.Module) -> torch.Tensor:
    B = len(x_test)
    snn = spikekit.from_model(model, spike_fn=SingleSpike, add_spiking_output=True, batch_size=B)
    x = x_test.unsqueeze(1).repeat(1, T, 1)  # (B, T, 64): the image as a constant current
    with torch.no_grad():
        snn.reset_states()
        out = snn(x.flatten(0, 1)).unflatten(0, (B, T))  # Squeeze layers: (B*T, 64) in, (B*T, 10) out
    return (out.cumsum(1).argmax(2) == y_test[:, None]).float().mean(0)


fig, ax = plt.subplots(figsize=(6, 3.5))
curves = {}
for label, model in [("normalised", normalized), ("x0.2: too small", too_small), ("x4: too large", too_large)]:
    acc = curves[label] = accuracy_over_time(model)
    print(f"{label:16s} accuracy after 10 steps {acc[9]:.3f}, after {T} steps {acc[-1]:.3f}")
    ax.plot(range(1, T + 1), acc, label=label)
ax.axhline(ann_accuracy, color="k", ls="--", lw=0.8, label="ANN")
ax.set(xlabel="time steps", ylabel="test accuracy", ylim=(0, 1))
ax.legend()
fig.tight_layout()

# %%
# What the curves show
# --------------------
# A too-quiet network needs more steps before its neurons fire; a too-loud one saturates: hidden neurons that
# should fire more than once per step cannot. Scaling the input (or the thresholds, ``spike_threshold=`` of
# :func:`~spikekit.from_model`) instead of the weights has the same effect. For this run:
goal = 0.9 * ann_accuracy


def steps_to_goal(acc: torch.Tensor) -> str:
    reached = (acc >= goal).nonzero()
    return f"after {int(reached[0]) + 1} steps" if len(reached) else f"not within {T} steps"


normal, small, large = curves["normalised"], curves["x0.2: too small"], curves["x4: too large"]
Say(
    f"Nine tenths of the ANN's accuracy ({goal:.1%}) is reached {steps_to_goal(normal)} by the normalised network, "
    f"{steps_to_goal(small)} by the too-quiet one and {steps_to_goal(large)} by the too-loud one. After {T} steps "
    f"they classify {normal[-1]:.1%}, {small[-1]:.1%} and {large[-1]:.1%} of the test digits (ANN: "
    f"{ann_accuracy:.1%})."
)
