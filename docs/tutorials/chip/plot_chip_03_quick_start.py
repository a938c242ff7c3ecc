"""
Quick start: from a trained network to a chip configuration, without a chip
===========================================================================

sinabs's quick start for Speck trains a small convolutional spiking network, wraps it in ``DynapcnnNetwork`` (which
checks it against the chip, groups it into chip layers and rounds its parameters to the chip's integers), maps the
layers onto the chip's cores and makes the configuration. This page does the same steps, written as a sinabs
program (``import spikekit as sinabs``, ``sinabs.backend.dynapcnn``), on scikit-learn's digits turned into spike
trains, and makes the configuration offline, since SynSense's SDK samna is not needed for any of it.
"""

# %%
# Data and an ANN
# ---------------
# The 8 x 8 digits shipped with scikit-learn; pixel intensities scaled to [0, 1].
import html
import warnings

import matplotlib.pyplot as plt
import torch
from sklearn.datasets import load_digits
from torch import nn

import spikekit as sinabs
from spikekit.backend.dynapcnn import DynapcnnNetwork


class Say(str):
    """A sentence built from this run's numbers; the documentation shows it as text under the cell."""

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self)}</p>"


torch.manual_seed(0)
digits = load_digits()
images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (1797, 1, 8, 8)
labels = torch.tensor(digits.target)
x_train, y_train, x_test, y_test = images[:1400], labels[:1400], images[1400:], labels[1400:]

# No biases, as in sinabs's quick start; the average pooling of the ANN becomes sum pooling on the chip, with the
# next layer's weights divided by the pooling area.
ann = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
    nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
    nn.Flatten(), nn.Linear(16 * 2 * 2, 10, bias=False),
)  # fmt: skip
optimizer = torch.optim.Adam(ann.parameters(), lr=1e-2)
for _epoch in range(12):
    for start in range(0, 1400, 100):
        loss = nn.functional.cross_entropy(ann(x_train[start : start + 100]), y_train[start : start + 100])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
with torch.no_grad():
    ann_accuracy = (ann(x_test).argmax(1) == y_test).float().mean().item()
print(f"ANN test accuracy: {ann_accuracy:.3f}")

# %%
# Convert to a spiking network
# ----------------------------
# Weights are normalised on the training data so that the spiking layers neither saturate nor stay silent; the
# converted model uses ``IAFSqueeze`` layers (batch and time folded into one dimension), as sinabs's quick start.
B, T = len(x_test), 32
sinabs.utils.normalize_weights(
    ann, x_train[:500], output_layers=["1", "4", "7"], param_layers=["0", "3", "7"], percentile=99.9
)
snn = sinabs.from_model(ann, input_shape=(1, 8, 8), batch_size=B, add_spiking_output=True, min_v_mem=-1.0)
print(snn.spiking_model)

# %%
# ``DynapcnnNetwork``: the network as the chip sees it
# ----------------------------------------------------
# ``discretize=True`` rounds weights, thresholds and the lower bound of the membrane to the chip's integer ranges
# (the same scale for all of a layer's parameters, so the layer's behaviour is kept). ``dvs_input=False``: the
# input comes from the host, not from the sensor. The printed form shows the chip layers: each one is a
# convolution (a linear layer becomes one), a spiking layer and the pooling that follows it.
hw_model = DynapcnnNetwork(snn.spiking_model, input_shape=(1, 8, 8), discretize=True, dvs_input=False)
print(hw_model)

# %%
# Place the layers on the cores, and the configuration
# ----------------------------------------------------
# sinabs's ``make_config`` needs samna (see the deployment page); ``make_json_config`` takes the same arguments and
# returns spikekit's JSON configuration without it. ``layer2core_map="auto"`` (the default) finds a placement where
# each layer's memory fits its core. ``chip_layers_ordering`` is sinabs's older, deprecated name of the placement.
config = hw_model.make_json_config(device="speck2fmodule")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    placement = hw_model.chip_layers_ordering
print("layer -> core:", placement)
print("configuration sections:", list(config))
for entry in config["layers"]:
    print({key: value for key, value in entry.items() if not isinstance(value, list | dict)})

summary = hw_model.memory_summary()
for kind, per_layer in summary.items():
    print(f"{kind:>6} memory per layer:", per_layer)

Say(
    f"The {len(hw_model.dynapcnn_layers)} chip layers go to cores {sorted(placement.values())}; their kernels take "
    f"{sum(summary['kernel'].values())} of the chip's kernel memory entries and their neurons "
    f"{sum(summary['neuron'].values())} neuron memory entries."
)


# %%
# Spike trains in, spike counts out
# ---------------------------------
# Rate coding: at each 1 ms step every pixel fires with a probability equal to its intensity. Both networks get the
# same spikes, ``(B*T, 1, 8, 8)``; the prediction is the output neuron that fired most.
def spike_trains(x: torch.Tensor, steps: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    probabilities = x.unsqueeze(1).expand(-1, steps, -1, -1, -1)
    return (torch.rand(probabilities.shape, generator=generator) < probabilities).float().flatten(0, 1)


spikes = spike_trains(x_test, T)
float_model = DynapcnnNetwork(snn.spiking_model, input_shape=(1, 8, 8), discretize=False, dvs_input=False)
with torch.no_grad():
    hw_model.reset_states()
    float_model.reset_states()
    # The output is (B*T, 10, 1, 1): the last layer runs as a convolution on the chip.
    out_chip = hw_model(spikes).unflatten(0, (B, T)).sum(1).flatten(1)  # (B, 10) spike counts
    out_float = float_model(spikes).unflatten(0, (B, T)).sum(1).flatten(1)
accuracy_chip = (out_chip.argmax(1) == y_test).float().mean().item()
accuracy_float = (out_float.argmax(1) == y_test).float().mean().item()
agree = (out_chip.argmax(1) == out_float.argmax(1)).float().mean().item()
print(f"float SNN {accuracy_float:.3f}, discretised (as on the chip) {accuracy_chip:.3f}, same prediction {agree:.3f}")

fig, ax = plt.subplots(figsize=(4, 4))
top = float(max(out_chip.max(), out_float.max())) + 1
ax.scatter(out_float.flatten(), out_chip.flatten(), s=3, alpha=0.4)
ax.plot([0, top], [0, top], "k--", lw=0.8)
ax.set(xlabel="float SNN: output spikes", ylabel="discretised SNN: output spikes", title=f"{B} digits, {T} steps")
fig.tight_layout()

Say(
    f"On {B} test digits of {T} steps the discretised network, which computes as the chip does, classifies "
    f"{accuracy_chip:.1%} correctly, the float spiking network {accuracy_float:.1%} and the ANN {ann_accuracy:.1%}; "
    f"the two spiking networks predict the same class for {agree:.1%} of the digits. The output spike counts differ "
    f"by {(out_chip - out_float).abs().mean().item():.2f} spikes on average: rounding the weights to integers moves "
    "some neurons across their threshold a step earlier or later."
)

# %%
# State is kept between calls
# ---------------------------
# As in sinabs, the neurons keep their membrane potentials from one call to the next until ``reset_states()``: one
# digit fed in two halves gives the same output as fed whole.
one = spike_trains(x_test[:1], T)
with torch.no_grad():
    snn_one = sinabs.from_model(ann, input_shape=(1, 8, 8), batch_size=1, add_spiking_output=True, min_v_mem=-1.0)
    single = DynapcnnNetwork(snn_one.spiking_model, input_shape=(1, 8, 8), discretize=True, dvs_input=False)
    whole = single(one)
    single.reset_states()
    halves = torch.cat([single(one[: T // 2]), single(one[T // 2 :])])
print("two halves == whole:", torch.equal(whole, halves))
