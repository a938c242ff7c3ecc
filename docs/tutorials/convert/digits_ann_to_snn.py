"""Tutorial: from a trained ANN to a spiking network, on scikit-learn's handwritten digits.

1. train a small CNN as an ordinary ANN;
2. scale its weights from data (``spikekit.utils.normalize_weights``);
3. convert it (``spikekit.from_model``): every ReLU becomes an integrate-and-fire layer;
4. run the spiking network for T time steps and compare its accuracy with the ANN's, for several T;
5. count what the spiking network costs in synaptic operations (``spikekit.hooks``).

Run: ``python docs/tutorials/convert/digits_ann_to_snn.py [output_dir]``; writes ``digits_accuracy_vs_timesteps.png``
and ``digits_results.json`` into ``output_dir`` (default: this script's folder). Takes about 10 s on one core.
Needs spikekit, spikekit-neurons, spikekit-surrogates, spikekit-convert, scikit-learn and matplotlib.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from sklearn.datasets import load_digits
from torch import nn

import spikekit as sk

torch.set_num_threads(1)
TIMESTEPS = [1, 2, 5, 10, 20, 40, 80]

# --- 1. data and ANN -------------------------------------------------------------------------------------------
x, y = load_digits(return_X_y=True)
x = torch.tensor(x, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0  # (N, 1, 8, 8), pixel values in [0, 1]
y = torch.tensor(y)
perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
x_train, y_train, x_test, y_test = x[perm[:1400]], y[perm[:1400]], x[perm[1400:]], y[perm[1400:]]

torch.manual_seed(0)
ann = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1),  # "0"
    nn.ReLU(),  # "1"  -> spiking layer
    nn.AvgPool2d(2),  # "2"
    nn.Flatten(),  # "3"
    nn.Linear(128, 64),  # "4"
    nn.ReLU(),  # "5"  -> spiking layer
    nn.Linear(64, 10),  # "6"  read out: summed over time
)
opt = torch.optim.Adam(ann.parameters(), lr=1e-2)
g = torch.Generator().manual_seed(1)
for _epoch in range(20):
    order = torch.randperm(len(x_train), generator=g)
    for i in range(0, len(x_train), 100):
        idx = order[i : i + 100]
        loss = nn.functional.cross_entropy(ann(x_train[idx]), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
ann.eval()
with torch.no_grad():
    ann_acc = (ann(x_test).argmax(1) == y_test).float().mean().item()
print(f"ANN test accuracy: {ann_acc:.4f}")

# --- 2. data-based weight normalisation -------------------------------------------------------------------------
# Scale each layer so that the 99.9th percentile of its ReLU output is 1 = the spike threshold: a neuron then
# rarely needs more than one spike per step, and its rate tracks the ReLU's value.
sk.utils.normalize_weights(ann, x_train[:500], output_layers=["1", "5"], param_layers=["0", "4"], percentile=99.9)

# --- 3 and 4. convert and run for T steps ----------------------------------------------------------------------
batch = len(x_test)
results = {"ann_accuracy": ann_acc, "snn_accuracy": {}}
for steps in TIMESTEPS:
    net = sk.from_model(ann, input_shape=(1, 8, 8), batch_size=batch)  # ReLU -> IAFSqueeze(batch_size=batch)
    # constant input current: every image repeated for T steps, (B, T, 1, 8, 8) folded to (B*T, 1, 8, 8)
    frames = x_test.unsqueeze(1).expand(batch, steps, 1, 8, 8).reshape(batch * steps, 1, 8, 8)
    net.reset_states()
    with torch.no_grad():
        logits = net(frames).reshape(batch, steps, 10).sum(1)  # sum the read-out over time
    acc = (logits.argmax(1) == y_test).float().mean().item()
    results["snn_accuracy"][steps] = acc
    print(f"SNN, T = {steps:3d}: accuracy {acc:.4f}")

# --- 5. what it costs: synaptic operations per time step -------------------------------------------------------
steps = 20
net = sk.from_model(ann, batch_size=batch)
sk.hooks.register_synops_hooks(net.spiking_model)
frames = x_test.unsqueeze(1).expand(batch, steps, 1, 8, 8).reshape(batch * steps, 1, 8, 8)
with torch.no_grad():
    net(frames)
synops = {str(k): float(v) for k, v in net.spiking_model.hook_data["synops_per_timestep"].items()}
results["synops_per_timestep_T20"] = synops
print(f"synaptic operations per sample and time step (T = {steps}), per layer: {synops}")
# (the first conv sees analog pixel values, not spikes: its count is a weighted input, not events)

# --- plot -------------------------------------------------------------------------------------------------------
out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
out_dir.mkdir(parents=True, exist_ok=True)
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(TIMESTEPS, [results["snn_accuracy"][t] for t in TIMESTEPS], "o-", label="SNN (converted)")
ax.axhline(ann_acc, color="k", ls="--", label="ANN")
ax.set_xscale("log")
ax.set_xlabel("time steps T")
ax.set_ylabel("test accuracy")
ax.set_title("digits: converted SNN vs ANN")
ax.legend()
fig.tight_layout()
fig.savefig(out_dir / "digits_accuracy_vs_timesteps.png", dpi=120)
(out_dir / "digits_results.json").write_text(json.dumps(results, indent=2))
