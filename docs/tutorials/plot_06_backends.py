"""
Choosing a compute backend
==========================

A neuron layer hands its whole time loop to a *compute backend*. The reference backend, ``"torch"``, is a plain
PyTorch loop that runs any configuration on any device; plugins add faster ones (``spikekit-kernels``: a fused CPU
loop ``"fused-cpu"``, Triton GPU kernels ``"triton"``). The model, its parameters and its state dict do not
change: only who runs the loop.
"""

# %%
# What is installed
# -----------------
import time
import warnings

import torch
from torch import nn

import spikekit
import spikekit.layers as sl
from spikekit.errors import BackendUnsupportedError

for name, description in sorted(spikekit.available_backends().items()):
    print(f"{name:12s} {description}")

# %%
# Per block of code, or per layer
# -------------------------------
# :func:`spikekit.use_backend` sets the backend of every neuron layer inside the block that does not name its
# own; ``backend=`` on a layer fixes that layer's choice.
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(32, 64), sl.LIF(tau_mem=20.0), nn.Linear(64, 8), sl.LIF(tau_mem=20.0))
x = torch.rand(16, 200, 32)


def timed(run) -> tuple[torch.Tensor, float]:
    spikekit.reset_states(model)
    start = time.perf_counter()
    out = run()
    return out, time.perf_counter() - start


reference, t_ref = timed(lambda: model(x))
backend = "fused-cpu" if "fused-cpu" in spikekit.available_backends() else "torch"
with spikekit.use_backend(backend):
    timed(lambda: model(x))  # the first call builds the fused kernel (once per process)
    fused, t_fused = timed(lambda: model(x))
print(f"torch: {t_ref * 1e3:.1f} ms, {backend}: {t_fused * 1e3:.1f} ms")
print("same spikes:", torch.equal(reference, fused))

layer = sl.IAF(backend=backend)  # this layer always uses the fused loop
print(layer.backend)

# %%
# Gradients are the same too
# --------------------------
x.requires_grad_(True)
spikekit.reset_states(model)
model(x).sum().backward()
grad_ref = x.grad.clone()
x.grad = None
spikekit.reset_states(model)
with spikekit.use_backend(backend):
    model(x).sum().backward()
print("max gradient difference:", (x.grad - grad_ref).abs().max().item())

# %%
# When a backend cannot run a configuration
# -----------------------------------------
# A backend may decline a configuration (a spike function it has no kernel for, a device, a dtype). By default
# the layer then runs on ``"torch"`` and a :class:`~spikekit.errors.BackendFallbackWarning` says why, once;
# ``fallback="error"`` raises instead, ``fallback="silent"`` says nothing.


class Floor(spikekit.activation.SurrogateSpikeFunction):
    """A spike function of our own: as many spikes as whole thresholds, computed with floor."""

    @staticmethod
    def spike_rule(v_mem, spike_threshold):
        return torch.floor(v_mem / spike_threshold).clamp(min=0)


custom = nn.Sequential(nn.Linear(4, 4), sl.IAF(spike_fn=Floor))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with spikekit.use_backend(backend):
        custom(torch.rand(2, 10, 4))
for w in caught:
    print(type(w.message).__name__, ":", str(w.message)[:160])
try:
    with spikekit.use_backend(backend, fallback="error"):
        custom(torch.rand(2, 10, 4))
except BackendUnsupportedError as err:
    print("BackendUnsupportedError:", str(err)[:160])
