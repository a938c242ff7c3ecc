"""
Erf
===

The derivative of erfc(-2x)/2, a Gaussian (spikingjelly).

The surrogate gradient against the membrane potential for three thresholds.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

import spikekit.activation as sa

sg = sa.Erf()
v_mem = torch.linspace(-1.0, 4.0, 1001)

fig, ax = plt.subplots(figsize=(6, 3.5))
for threshold in (0.5, 1.0, 2.0):
    line = ax.plot(v_mem, sg(v_mem, torch.tensor(threshold)), label=f"thr = {threshold}")[0]
    ax.axvline(threshold, color=line.get_color(), linestyle=":", linewidth=0.8)
ax.set_xlabel("v_mem")
ax.set_ylabel("dS / dv_mem")
ax.set_title(repr(sg))
ax.legend()
fig.tight_layout()
# written to the working directory: sphinx-gallery runs each script in its own folder
fig.savefig("erf.png", dpi=100)
