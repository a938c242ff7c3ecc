"""NIR export of DendriticLIF: it is a current-based LIF (dendrite = synapse), so it becomes NIR ``CubaLIF``.

Written against the registry only: it builds the equivalent public ``spikekit.layers.LIF`` and hands it to whichever
plugin maps that class, so the time-constant conventions stay that plugin's business.
"""

from __future__ import annotations

from typing import Any

import torch


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
