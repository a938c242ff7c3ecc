"""NIR mapping of DendriticLIF: it is a current-based LIF (dendrite = synapse), so it becomes NIR ``CubaLIF``, and
a ``CubaLIF`` whose metadata names DendriticLIF comes back as DendriticLIF.

Written against the registry only: it builds the equivalent public ``spikekit.layers.LIF`` and hands it to whichever
plugin maps that class, so the time-constant conventions stay that plugin's business.
"""

from __future__ import annotations

from typing import Any

import torch

from spikekit.state import SqueezeMixin


def export_dendritic_lif(module: Any, ctx: Any) -> Any:
    import spikekit.layers as sl
    from spikekit.plugins import host

    lif = sl.LIF(
        tau_mem=module.tau_mem, tau_syn=module.tau_dend, spike_threshold=module.spike_threshold,
        spike_fn=module.spike_fn, surrogate_grad_fn=module.surrogate_grad_fn, norm_input=True,
    )  # fmt: skip
    lif.init_state_with_shape(module.v_mem.shape)
    exporters = host().converters("nir", "export")
    name = next(
        n for n in ("spikekit.layers.LIF", f"{type(lif).__module__}.{type(lif).__qualname__}") if n in exporters
    )
    with torch.no_grad():
        return exporters[name].load()(lif, ctx)


class _Squeezed(torch.nn.Module, SqueezeMixin):
    """Runs a ``(batch, time, ...)`` layer on the ``(batch*time, ...)`` data of an imported NIR graph."""

    def __init__(self, layer: torch.nn.Module, batch_size: int | None, num_timesteps: int | None) -> None:
        super().__init__()
        self.squeeze_init(batch_size, num_timesteps)
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.squeeze_forward(x, self.layer)


def import_dendritic_lif(node: Any, ctx: Any) -> torch.nn.Module:
    """NIR ``CubaLIF`` written from a DendriticLIF -> DendriticLIF again (the import side of the mapping above).

    ``from_nir`` calls this because the node's metadata names ``spikekit_thirdparty.neuron.DendriticLIF``.
    """
    import numpy as np

    from spikekit_thirdparty.neuron import DendriticLIF

    ctx.require_time(node)

    def steps(tau: Any) -> float:
        values = np.unique(ctx.convention.tau_steps(np.asarray(tau, dtype=np.float64)))
        if values.size != 1:
            raise ValueError(f"{ctx.name}: DendriticLIF takes one time constant, got {values.tolist()}")
        return float(values[0])

    threshold = np.unique(np.asarray(node.v_threshold, dtype=np.float64))
    layer = DendriticLIF(tau_mem=steps(node.tau_mem), tau_dend=steps(node.tau_syn), spike_threshold=float(threshold[0]))
    return _Squeezed(layer, ctx.batch_size, ctx.num_timesteps)
