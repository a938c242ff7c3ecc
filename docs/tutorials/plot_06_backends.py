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
import html
import time
import warnings

import torch
from torch import nn

import spikekit
import spikekit.layers as sl
from spikekit.errors import BackendUnsupportedError


class Say(str):
    """A sentence built from this run's numbers; the documentation shows it as text under the cell."""

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self)}</p>"


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

layer = sl.IAF(backend=backend)  # this layer always uses this backend, inside a use_backend block or not
print(layer.backend)
same_spikes = torch.equal(reference, fused)
Say(
    f"On the machine that built this page, the {backend!r} backend ran the forward pass in {t_fused * 1e3:.1f} ms "
    f"against {t_ref * 1e3:.1f} ms for 'torch' (one timing each: benchmarks measure properly), and gave "
    + ("exactly the same spikes." if same_spikes else "different spikes.")
)

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
grad_diff = (x.grad - grad_ref).abs().max().item()
print("max gradient difference:", grad_diff)
Say(
    f"The largest difference between the two backends' input gradients is {grad_diff:.2g} "
    f"(the gradients themselves reach {grad_ref.abs().max().item():.2g}): "
    + (
        "the same up to floating-point rounding."
        if grad_diff <= 1e-5 * max(1.0, grad_ref.abs().max().item())
        else "larger than floating-point rounding would explain."
    )
)

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
