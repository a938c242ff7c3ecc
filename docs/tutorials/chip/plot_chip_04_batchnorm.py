"""
Networks with BatchNorm
=======================

The chip has no BatchNorm: a core computes a convolution with a bias, then integrate-and-fire neurons. A BatchNorm
that follows a convolution or a linear layer is, once trained, a per-channel scale and shift, so ``DynapcnnNetwork``
folds it into that layer's weight and bias, as sinabs does. This page trains a network with BatchNorm, folds it, and
checks that the folded network computes the same thing as the original in eval mode. It is written as a sinabs
program (``import spikekit as sinabs``).
"""

# %%
# A network with BatchNorm after its convolutions and its linear layer
# --------------------------------------------------------------------
import copy
import html

import torch
from sklearn.datasets import load_digits
from torch import nn

import spikekit as sinabs
from spikekit.backend.dynapcnn import DynapcnnNetwork
from spikekit.backend.dynapcnn.utils import merge_bn


class Say(str):
    """A sentence built from this run's numbers; the documentation shows it as text under the cell."""

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self)}</p>"


torch.manual_seed(0)
digits = load_digits()
images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
labels = torch.tensor(digits.target)
x_train, y_train, x_test, y_test = images[:1400], labels[:1400], images[1400:], labels[1400:]

ann = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.AvgPool2d(2),
    nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.AvgPool2d(2),
    nn.Flatten(), nn.Linear(64, 32, bias=False), nn.BatchNorm1d(32), nn.ReLU(),
    nn.Linear(32, 10, bias=False),
)  # fmt: skip
optimizer = torch.optim.Adam(ann.parameters(), lr=1e-2)
ann.train()
for _epoch in range(8):
    for start in range(0, 1400, 100):
        loss = nn.functional.cross_entropy(ann(x_train[start : start + 100]), y_train[start : start + 100])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
ann.eval()  # from here on BatchNorm uses its running statistics: a fixed scale and shift per channel
with torch.no_grad():
    ann_accuracy = (ann(x_test).argmax(1) == y_test).float().mean().item()
print(f"ANN test accuracy (eval mode): {ann_accuracy:.3f}")

# %%
# Convert, and let ``DynapcnnNetwork`` fold the BatchNorms
# --------------------------------------------------------
# The converted model keeps its BatchNorm layers (between each weight layer and its spiking layer).
# ``DynapcnnNetwork`` folds each into the layer before it: ``discretize=False`` keeps the folded float values, so
# the two networks can be compared exactly; the chip's integers come with ``discretize=True``.
B, T = len(x_test), 16
snn_eps = sinabs.from_model(ann, input_shape=(1, 8, 8), batch_size=B, add_spiking_output=True).spiking_model.eval()
# Folding leaves the BatchNorm's ``eps`` out (see below). To compare exactly we set it to 0 in the model we fold;
# the effect of the default eps is measured further down.
snn = copy.deepcopy(snn_eps)
for module in snn.modules():
    if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        module.eps = 0.0
print(snn)
folded = DynapcnnNetwork(snn, input_shape=(1, 8, 8), discretize=False, dvs_input=False)
print(folded)
n_bn = sum(isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d) for m in snn.modules())
n_bn_left = sum(isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d) for m in folded.modules())
print(f"BatchNorm layers: {n_bn} in the converted model, {n_bn_left} in the DynapcnnNetwork")

# %%
# What folding does
# -----------------
# For one channel with running mean ``mu``, running variance ``var``, scale ``gamma`` and shift ``beta``, the
# folded layer has ``weight * gamma / sqrt(var)`` and ``bias = beta + (bias - mu) * gamma / sqrt(var)``.
# ``utils.merge_bn`` does it for one layer. Like sinabs, it leaves the BatchNorm's small ``eps`` out of the square
# root, so the folded values differ from the BatchNorm's by a relative ``eps / (2 var)`` at most.
conv, bn = ann[0], ann[1]
merged = merge_bn(conv, bn)
with torch.no_grad():
    reference = bn(conv(x_test))
    by_fold = merged(x_test)
fold_error = (reference - by_fold).abs().max().item()
print(f"largest difference, conv + BatchNorm vs folded conv: {fold_error:.2e}")

# %%
# Same outputs, step by step
# --------------------------
# Both networks get the same rate-coded spike trains (``(B*T, 1, 8, 8)``). We compare the output spikes of every
# output neuron at every time step.
generator = torch.Generator().manual_seed(1)
probabilities = x_test.unsqueeze(1).expand(-1, T, -1, -1, -1)
spikes = (torch.rand(probabilities.shape, generator=generator) < probabilities).float().flatten(0, 1)
with torch.no_grad():
    sinabs.reset_states(snn)
    folded.reset_states()
    out_bn = snn(spikes).flatten(1)
    out_folded = folded(spikes).flatten(1)
same = (out_bn == out_folded).float().mean().item()
n_differ = int((out_bn != out_folded).sum())
accuracy_bn = (out_bn.unflatten(0, (B, T)).sum(1).argmax(1) == y_test).float().mean().item()
accuracy_folded = (out_folded.unflatten(0, (B, T)).sum(1).argmax(1) == y_test).float().mean().item()
print(f"identical output entries: {same:.4%}; accuracy with BatchNorm {accuracy_bn:.3f}, folded {accuracy_folded:.3f}")
with torch.no_grad():
    sinabs.reset_states(snn_eps)
    out_eps = snn_eps(spikes).flatten(1)
same_eps = (out_eps == out_folded).float().mean().item()
print(f"identical output entries against the model with the default eps=1e-5: {same_eps:.4%}")

Say(
    f"The converted model has {n_bn} BatchNorm layers and the DynapcnnNetwork {n_bn_left}. Over {B} digits x {T} "
    f"steps x 10 output neurons ({out_bn.numel()} output entries), {n_differ} differ between the network with "
    "BatchNorm (eval mode, eps 0) and the folded one: the folded weights are rounded once, the BatchNorm rounds "
    "after the convolution, and a neuron exactly at its threshold can go either way "
    f"(float32 rounding). The classification accuracy is {accuracy_bn:.1%} and "
    f"{accuracy_folded:.1%}. The only difference folding makes is the omitted eps: with the default eps the folded first "
    f"layer is at most {fold_error:.1e} away from convolution + BatchNorm, and {same_eps:.2%} of the output spike "
    "counts stay identical (a neuron close to its threshold may fire one step earlier or later)."
)

# %%
# And on the chip's integers
# --------------------------
# With ``discretize=True`` the folded weights, biases and thresholds are rounded to the chip's 8-bit weights and
# 16-bit states; the memory summary counts the folded biases.
chip_net = DynapcnnNetwork(snn, input_shape=(1, 8, 8), discretize=True, dvs_input=False)
with torch.no_grad():
    chip_net.reset_states()
    out_chip = chip_net(spikes).flatten(1)
accuracy_chip = (out_chip.unflatten(0, (B, T)).sum(1).argmax(1) == y_test).float().mean().item()
print("bias memory per layer:", chip_net.memory_summary()["bias"])
print(f"discretised accuracy: {accuracy_chip:.3f}")

# %%
# Training mode is a different network
# ------------------------------------
# In training mode a BatchNorm normalises with the statistics of the current batch, which the chip cannot do: fold
# only a network in eval mode. Here the same converted model in training mode gives other outputs (and updates the
# running statistics, so we work on a copy).
snn_train = copy.deepcopy(snn_eps).train()
with torch.no_grad():
    sinabs.reset_states(snn_train)
    out_train = snn_train(spikes).flatten(1)
print(f"identical output entries in training mode: {(out_train == out_folded).float().mean().item():.4%}")
