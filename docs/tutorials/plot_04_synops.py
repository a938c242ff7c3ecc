"""
Training with fewer synaptic operations
=======================================

On neuromorphic hardware the energy goes into synaptic operations (*synops*): one per spike per outgoing
connection. A network can be trained to use fewer by adding its synop count to the loss. The hooks of
:mod:`spikekit.hooks` count synops differentiably, for an ANN (activations stand for spike counts) and for an
SNN alike.
"""

# %%
# Counting synops
# ---------------
# :func:`spikekit.hooks.register_synops_hooks` hooks every ``Linear`` / ``Conv2d`` of an ``nn.Sequential``;
# after a forward pass ``model.hook_data["total_synops_per_timestep"]`` is a tensor in the autograd graph.
import html

import matplotlib.pyplot as plt
import torch
from sklearn.datasets import load_digits
from torch import nn

import spikekit
import spikekit.layers as sl


class Say(str):
    """A sentence built from this run's numbers; the documentation shows it as text under the cell."""

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self)}</p>"


torch.manual_seed(0)
digits = load_digits()
images = torch.tensor(digits.data, dtype=torch.float32) / 16.0
labels = torch.tensor(digits.target)
x_train, y_train, x_test, y_test = images[:1400], labels[:1400], images[1400:], labels[1400:]


def train_ann(synops_weight: float) -> tuple[float, float]:
    """Train an ANN with loss = cross-entropy + synops_weight * synops; return (accuracy, synops per sample)."""
    torch.manual_seed(0)
    ann = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
    spikekit.hooks.register_synops_hooks(ann)
    optimizer = torch.optim.Adam(ann.parameters(), lr=3e-3)
    for _epoch in range(6):
        for start in range(0, 1400, 100):
            out = ann(x_train[start : start + 100])
            synops = ann.hook_data["total_synops_per_timestep"]
            loss = nn.functional.cross_entropy(out, y_train[start : start + 100]) + synops_weight * synops
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        accuracy = (ann(x_test).argmax(1) == y_test).float().mean().item()
        return accuracy, float(ann.hook_data["total_synops_per_timestep"])


# %%
# ANN: accuracy against synops
# ----------------------------
weights = [0.0, 3e-5, 1e-4, 3e-4]
ann_results = [train_ann(w) for w in weights]
for w, (acc, syn) in zip(weights, ann_results):
    print(f"penalty {w:g}: accuracy {acc:.3f}, synops per sample {syn:,.0f}")

ann_accuracy, ann_synops = ann_results[0]
Say(
    f"Without a penalty the ANN reaches {ann_accuracy:.1%} test accuracy with {ann_synops:,.0f} synops per sample; "
    + "; ".join(
        f"with penalty {w:g}, {a:.1%} with {s / ann_synops:.0%} of those synops"
        for w, (a, s) in zip(weights[1:], ann_results[1:])
    )
    + "."
    + (
        " Here a small penalty even helps, as a regulariser."
        if max(a for a, _ in ann_results[1:]) > ann_accuracy
        else ""
    )
    + (" The largest one costs accuracy." if ann_results[-1][0] < ann_accuracy - 0.05 else "")
)

# %%
# SNN: the same, counted over time
# --------------------------------
# For a spiking network the counts are spikes; the hooks see ``(B*T, ...)`` tensors of Squeeze layers, so
# ``total_synops_per_timestep`` is the mean per sample and time step. The raw count is in the thousands, so the
# penalty is given relative to the count of the network trained without one: ``penalty * synops / synops_0``.
# A penalty of 1 then weighs halving the synops as much as a drop of 0.5 in the cross-entropy.
B, T = 100, 8


def train_snn(penalty: float, synops_0: float = 1.0) -> tuple[float, float]:
    """Train an SNN with loss = cross-entropy + penalty * synops / synops_0; return (accuracy, synops per step)."""
    torch.manual_seed(0)
    snn = nn.Sequential(
        nn.Linear(64, 64),
        sl.IAFSqueeze(batch_size=B),
        nn.Linear(64, 64),
        sl.IAFSqueeze(batch_size=B),
        nn.Linear(64, 10),
    )
    spikekit.hooks.register_synops_hooks(snn)
    optimizer = torch.optim.Adam(snn.parameters(), lr=3e-3)

    def run(x: torch.Tensor) -> torch.Tensor:
        spikekit.reset_states(snn)  # class scores: the read-out's input current, averaged over the T steps
        return snn(x.unsqueeze(1).repeat(1, T, 1).flatten(0, 1)).unflatten(0, (B, T)).mean(1)

    for _epoch in range(4):
        for start in range(0, 1400, B):
            scores = run(x_train[start : start + B])
            loss = nn.functional.cross_entropy(scores, y_train[start : start + B])
            loss = loss + penalty * snn.hook_data["total_synops_per_timestep"] / synops_0
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        hits, synops = 0.0, 0.0
        for start in range(0, 300, B):  # the first 300 test digits, in batches of B
            hits += (run(x_test[start : start + B]).argmax(1) == y_test[start : start + B]).sum().item()
            synops += float(snn.hook_data["total_synops_per_timestep"]) / 3
        return hits / 300, synops


snn_penalties = [0.0, 0.03, 0.1, 0.3, 1.0, 3.0]
snn_results = [train_snn(0.0)]
snn_results += [train_snn(p, synops_0=snn_results[0][1]) for p in snn_penalties[1:]]
for p, (acc, syn) in zip(snn_penalties, snn_results):
    print(f"penalty {p:g}: accuracy {acc:.3f}, synops per sample and step {syn:,.0f}")

# %%
# The trade-off
# -------------
# Each point is one network, labelled with its penalty. We pick the penalty that saves the most synops while
# losing at most two points of accuracy against the network trained without a penalty.
base_accuracy, base_synops = snn_results[0]
chosen = max(
    (i for i, (acc, _) in enumerate(snn_results) if acc >= base_accuracy - 0.02),
    key=lambda i: -snn_results[i][1],
)
fig, axes = plt.subplots(1, 2, figsize=(8, 3))
curves = [
    (axes[0], ann_results, weights, "ANN", "synops per sample"),
    (axes[1], snn_results, snn_penalties, "SNN", "synops per sample and step"),
]
for ax, results, ws, title, unit in curves:
    ax.plot([s for _, s in results], [a for a, _ in results], "o-")
    for w, (a, s) in zip(ws, results):
        ax.annotate(f"{w:g}", (s, a), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.axhline(0.1, color="0.6", ls=":", lw=0.8)  # chance: ten classes
    ax.set(xlabel=unit, ylabel="test accuracy", title=title, ylim=(0, 1.05))
axes[1].plot([snn_results[chosen][1]], [snn_results[chosen][0]], "o", ms=12, mfc="none", color="C3")
fig.tight_layout()

# %%
# What this run shows:
chosen_accuracy, chosen_synops = snn_results[chosen]
last_accuracy, last_synops = snn_results[-1]
ending = (
    f"The largest penalty tried, {snn_penalties[-1]:g}, leaves {last_synops:,.0f} synops and "
    f"{last_accuracy:.1%} accuracy: past some point the network gives up accuracy for silence."
    if last_accuracy < base_accuracy - 0.1
    else f"Even the largest penalty tried, {snn_penalties[-1]:g}, keeps {last_accuracy:.1%} accuracy."
)
Say(
    f"Without a penalty the SNN reaches {base_accuracy:.1%} test accuracy with {base_synops:,.0f} synops per "
    f"sample and step. With penalty {snn_penalties[chosen]:g} (circled) it reaches {chosen_accuracy:.1%} with "
    f"{chosen_synops:,.0f} synops, {1 - chosen_synops / base_synops:.0%} fewer; chance is 10%. {ending}"
)
