"""
Exporting to NIR
================

NIR (the Neuromorphic Intermediate Representation) describes a spiking network independently of the library
that trained it, so that other simulators and chips can run it. ``spikekit-nir`` provides
:func:`spikekit.nir.to_nir` and :func:`spikekit.nir.from_nir` (the same as sinabs's ``to_nir`` / ``from_nir``).
"""

# %%
# Export
# ------
import html
import tempfile
from pathlib import Path

import torch
from torch import nn

import spikekit.layers as sl
import spikekit.nir


class Say(str):
    """A sentence built from this run's numbers; the documentation shows it as text under the cell."""

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self)}</p>"


torch.manual_seed(0)
B = 2
model = nn.Sequential(
    nn.Linear(16, 32),
    sl.LIFSqueeze(tau_mem=10.0, batch_size=B),
    nn.Linear(32, 4),
    sl.IAFSqueeze(batch_size=B),
)
sample = torch.rand(B * 5, 16)  # (B*T, features)
graph = spikekit.nir.to_nir(model, sample)
for name, node in graph.nodes.items():
    print(f"{name:8s} {type(node).__name__}")
print("edges:", graph.edges)

# %%
# Save, load and run it again
# ---------------------------
# The graph is written to a ``.nir`` (HDF5) file and read back as a spikekit model; the round trip should keep the
# weights and neuron parameters, so that both models compute the same spikes. A ``.nir`` file is read as untrusted
# input: its declared data and nesting are bounded (``max_bytes``, ``max_depth``) and links to other files are
# refused before any value is read (see :ref:`reliability-security`).
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "model.nir"
    spikekit.nir.save(graph, path)
    restored = spikekit.nir.from_nir(path, batch_size=B)
print(restored)

x = (torch.rand(B * 50, 16) < 0.3).float()
with torch.no_grad():
    for layer in model:
        if hasattr(layer, "reset_states"):
            layer.reset_states()
    out_original = model(x)
    out_restored = restored(x)
same = torch.equal(out_original, out_restored)
print("same spikes after the round trip:", same)
n_spikes = int(out_original.sum())
Say(
    f"Over {x.shape[0] // B} time steps of random input the original model emits {n_spikes} output spikes, and the "
    + (
        "model read back from the file emits exactly the same spikes: the round trip kept every weight and parameter."
        if same
        else f"model read back from the file differs in {int((out_original != out_restored).sum())} places."
    )
)
