"""
Spike functions: from membrane potential to spikes
==================================================

``MultiSpike`` emits as many spikes as the threshold fits into the membrane potential (truncated),
``SingleSpike`` at most one, and ``MaxSpike(m)`` at most ``m``. The lower panel shows the surrogate gradient that
all three pass back (here the default ``SingleExponential``).
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

import spikekit.activation as sa

v = torch.linspace(-1.0, 4.5, 1101, requires_grad=True)
thr = torch.tensor(1.0)
surrogate = sa.SingleExponential()
functions = {"MultiSpike": sa.MultiSpike, "SingleSpike": sa.SingleSpike, "MaxSpike(2)": sa.MaxSpike(2)}

# %%
fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
for name, fn in functions.items():
    spikes = fn.apply(v, thr, surrogate)
    top.step(v.detach(), spikes.detach(), where="post", label=name)
grad = torch.autograd.grad(sa.MultiSpike.apply(v, thr, surrogate).sum(), v)[0]
bottom.plot(v.detach(), grad, label="surrogate dS/dv (SingleExponential)")
top.set_ylabel("spikes per step")
bottom.set_ylabel("gradient")
bottom.set_xlabel("membrane potential (threshold = 1)")
top.legend()
bottom.legend()
fig.tight_layout()
fig.savefig("spike_functions.png", dpi=100)
