"""
specksim without samna: a converted network on event input
==========================================================

sinabs's specksim example turns a spiking network into samna's event-based simulator with
``from_sequential(network, input_shape)`` and feeds it events as a record array with fields ``x``, ``y``, ``t``,
``p``. spikekit-speck offers the same call shape (``spikekit.backend.dynapcnn.specksim``); without samna the network
runs on spikekit's chip-exact integer simulator instead (discretised as the chip runs it, one step per distinct
timestamp: see :doc:`/speck/offline`).
"""

# %%
# Train an ANN and convert it
# ---------------------------
import html

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

import spikekit
from spikekit.backend.dynapcnn.specksim import from_sequential


class Say(str):
    """A sentence built from this run's numbers; the documentation shows it as text under the cell."""

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self)}</p>"


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
spikekit.utils.normalize_weights(ann, images[:500], output_layers=["1", "4"], param_layers=["0", "4"], percentile=99)
snn = spikekit.from_model(ann, batch_size=1, min_v_mem=-1.0, add_spiking_output=True).spiking_model

# %%
# The specksim network
# --------------------
# A ReLU would be refused (convert first), a bias too; the average pooling runs as sum pooling with the next
# weights divided by its area, as in specksim.
specksim_net = from_sequential(snn, input_shape=(1, 8, 8))
print(type(specksim_net).__name__)
print(specksim_net.deployment.memory_summary())


# %%
# Digits as events
# ----------------
# Each pixel fires at each 1 ms step with a probability equal to its intensity; the events go in as records.
def to_events(image: torch.Tensor, steps: int = 32) -> np.ndarray:
    spikes = (torch.rand(steps, 8, 8) < image[0]).nonzero().numpy()  # rows (t, y, x)
    records = np.zeros(len(spikes), dtype=specksim_net.output_dtype)
    records["t"], records["y"], records["x"], records["p"] = spikes[:, 0] * 1000, spikes[:, 1], spikes[:, 2], 0
    return records


test = range(1400, 1500)
hits_specksim = hits_float = 0
specksim_net.add_monitor(0)
hidden = 0
for i in test:
    events = to_events(images[i])
    specksim_net.reset_states()
    out = specksim_net(events)  # records (x, y, t, p): p is the output class
    counts = np.bincount(out["p"].astype(np.int64), minlength=10)
    hits_specksim += int(counts.argmax() == labels[i]) if len(out) else 0
    hidden += len(specksim_net.read_monitor(0))
    # The float SNN on the same events, one time step per timestamp:
    raster = torch.zeros(32, 1, 8, 8)
    raster[events["t"] // 1000, 0, events["y"], events["x"]] = 1.0
    with torch.no_grad():
        spikekit.reset_states(snn)
        hits_float += int(snn(raster).sum(0).argmax() == labels[i])

print(f"float SNN accuracy:          {hits_float / len(test):.2f}")
print(f"offline specksim accuracy:   {hits_specksim / len(test):.2f}")
print(f"hidden-layer spikes per digit (monitor 0): {hidden / len(test):.0f}")

# %%
# States are kept between calls until ``reset_states``, so feeding a digit in two halves should give the same
# output as feeding it whole.
events = to_events(images[1400])
specksim_net.reset_states()
whole = specksim_net(events)
specksim_net.reset_states()
halves = np.concatenate([specksim_net(events[events["t"] < 16000]), specksim_net(events[events["t"] >= 16000])])
same = np.array_equal(np.sort(whole, order=["t", "p"]), np.sort(halves, order=["t", "p"]))
print("same output events:", same)
Say(
    f"Fed whole, the digit gives {len(whole)} output events; fed in two halves, {len(halves)}"
    + (", the same events at the same times." if same else ", and they differ.")
)
