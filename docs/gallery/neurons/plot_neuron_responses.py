"""
Neuron models: response to a step current
=========================================

Every neuron layer of ``spikekit.layers`` receives the same input: a step current of 0.3 switched on at step 20
and off at step 120. The figure shows the membrane potential (recorded with ``record_states=True``) and the spikes.
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

import spikekit.layers as sl

T = 160
current = torch.zeros(1, T, 1)  # (B, T, neurons)
current[:, 20:120] = 0.3

models = {
    "IAF": sl.IAF(record_states=True),
    "LIF (tau_mem=20)": sl.LIF(tau_mem=20.0, norm_input=False, record_states=True),
    "LIF + synapse (tau_syn=5)": sl.LIF(tau_mem=20.0, tau_syn=5.0, norm_input=False, record_states=True),
    "ALIF (tau_adapt=40)": sl.ALIF(tau_mem=20.0, tau_adapt=40.0, adapt_scale=1.8, norm_input=False, record_states=True),
    "ExpLeak (tau_mem=20)": sl.ExpLeak(tau_mem=20.0, record_states=True),
}

# %%
fig, axes = plt.subplots(len(models), 1, figsize=(8, 2.0 * len(models)), sharex=True)
t = torch.arange(T)
for ax, (name, layer) in zip(axes, models.items()):
    with torch.no_grad():
        out = layer(current)
    v = layer.recordings["v_mem"][0, :, 0]
    ax.plot(t, v, label="v_mem")
    if layer.does_spike:
        spike_t = t[out[0, :, 0] > 0]
        ax.vlines(spike_t, 1.1, 1.4, color="k", label="spikes")
        thr = layer.recordings["spike_threshold"][0, :, 0] if "spike_threshold" in layer.recordings else None
        if thr is not None:
            ax.plot(t, thr, "--", label="adaptive threshold")
    ax.plot(t, current[0, :, 0], ":", color="gray", label="input")
    ax.set_title(name, fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
axes[-1].set_xlabel("time step")
fig.tight_layout()
fig.savefig("neuron_responses.png", dpi=100)
