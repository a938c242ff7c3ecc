"""
Reset mechanisms: subtract or reset to a value
==============================================

An IAF neuron driven by a constant current of 0.45 per step, once with ``MembraneSubtract`` (the surplus above
threshold is kept) and once with ``MembraneReset`` (the potential restarts from 0).
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

import spikekit.activation as sa
import spikekit.layers as sl

x = torch.full((1, 30, 1), 0.45)
fig, ax = plt.subplots(figsize=(7, 3))
for name, reset in {"MembraneSubtract()": sa.MembraneSubtract(), "MembraneReset()": sa.MembraneReset()}.items():
    layer = sl.IAF(reset_fn=reset, record_states=True)
    with torch.no_grad():
        layer(x)
    ax.plot(layer.recordings["v_mem"][0, :, 0], marker="o", ms=3, label=name)
ax.set_xlabel("time step")
ax.set_ylabel("v_mem after reset")
ax.legend()
fig.tight_layout()
fig.savefig("resets.png", dpi=100)
