"""
Deploying to a chip target
==========================

:func:`spikekit.deploy` maps a trained spiking network onto a hardware target registered by a plugin: it checks
the model against the chip's constraints, discretises weights and thresholds to the chip's integers, places the
layers on cores, and returns a deployment that simulates exactly what the chip would compute — no chip or vendor
SDK needed. ``spikekit-speck`` provides the Speck / DYNAP-CNN family.
"""

# %%
# Targets
# -------
import html

import torch
from sklearn.datasets import load_digits
from torch import nn

import spikekit


class Say(str):
    """A sentence built from this run's numbers; the documentation shows it as text under the cell."""

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self)}</p>"


for name, description in sorted(spikekit.available_targets().items()):
    print(f"{name:14s} {description[:80]}")

# %%
# A chip-shaped network, trained by conversion
# --------------------------------------------
# Convolutions without bias, IAF neurons, average pooling with stride = kernel: what the chip's cores run.
torch.manual_seed(0)
digits = load_digits()
images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
labels = torch.tensor(digits.target)
ann = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
    nn.Flatten(), nn.Linear(8 * 4 * 4, 10, bias=False),
)  # fmt: skip
optimizer = torch.optim.Adam(ann.parameters(), lr=1e-2)
for _epoch in range(10):
    for start in range(0, 1400, 100):
        loss = nn.functional.cross_entropy(ann(images[start : start + 100]), labels[start : start + 100])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
# Scale each layer so that its 99th-percentile activation reaches the threshold (rate coding needs it).
spikekit.utils.normalize_weights(ann, images[:500], output_layers=["1", "4"], param_layers=["0", "4"], percentile=99)
B, T = 100, 32
snn = spikekit.from_model(ann, batch_size=B, min_v_mem=-1.0, add_spiking_output=True).spiking_model
print(snn)

# %%
# Check, map and inspect
# ----------------------
deployment = spikekit.deploy(snn, "speck2f", input_shape=(1, 8, 8))
print(deployment.memory_summary())

# %%
# Simulate the chip
# -----------------
# The chip takes events: here each pixel fires with a probability equal to its intensity at every step (rate code).
x = images[1400 : 1400 + B]
events = (torch.rand(B, T, 1, 8, 8) < x.unsqueeze(1)).float()  # (B, T, 1, 8, 8) events
chip_out = deployment.simulate(events)
chip_counts = chip_out.reshape(B, T, -1).sum(1)
with torch.no_grad():
    spikekit.reset_states(snn)
    float_counts = snn(events.flatten(0, 1)).unflatten(0, (B, T)).sum(1)
y = labels[1400 : 1400 + B]
print(f"floating-point SNN accuracy: {(float_counts.argmax(1) == y).float().mean():.2f}")
print(f"chip simulation accuracy:    {(chip_counts.argmax(1) == y).float().mean():.2f}")
with torch.no_grad():
    print(f"ANN accuracy:                {(ann(x).argmax(1) == y).float().mean():.2f}")
agree = int((float_counts.argmax(1) == chip_counts.argmax(1)).sum())
print("same prediction on", agree, "of", B, "digits")
Say(
    f"The simulated chip classifies {(chip_counts.argmax(1) == y).float().mean():.0%} of these {B} digits, the "
    f"floating-point SNN {(float_counts.argmax(1) == y).float().mean():.0%}; they predict the same class for "
    f"{agree} of the {B}. "
    + (
        "Where they differ, it is the chip's integer weights and thresholds that changed a close call."
        if agree < B
        else "Discretising weights and thresholds to the chip's integers changed no prediction here."
    )
)

# %%
# A model the chip cannot run is refused with the layer named:
try:
    spikekit.deploy(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU()), "speck2f", input_shape=(1, 8, 8))
except ValueError as err:
    print(type(err).__name__, ":", err)
