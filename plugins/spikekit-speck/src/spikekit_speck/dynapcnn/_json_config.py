"""spikekit's JSON configuration of a DynapcnnNetwork, from its current DynapcnnLayers (no samna needed)."""

from __future__ import annotations

import copy
from typing import Any

from spikekit_speck.chip import chip_spec
from spikekit_speck.config import build_config
from spikekit_speck.discretize import discretize_params
from spikekit_speck.errors import SpeckModelError
from spikekit_speck.graph import check_core_geometry

__all__ = ["json_config"]


def json_config(network: Any, layer2core: dict[int, int], device: str, monitored: list[Any]) -> dict[str, Any]:
    """The configuration dict (format ``spikekit-speck``) of ``network`` with its layers on ``layer2core``'s cores.

    The parameters are the DynapcnnLayers' own (so a network trained with ``discretize=False`` is configured with
    its trained values, discretised here); the chip's limits are checked, and a violation raises ``ValueError``
    naming the layer.
    """
    chip = chip_spec(device)
    plan = copy.deepcopy(network.plan)  # the network's own plan, filled in below with its layers' parameters
    to_plan = network._plan_index
    from_plan = {old: new for new, old in to_plan.items()}
    params, placement = [], {}
    for plan_layer in plan.layers:
        index = from_plan[plan_layer.index]
        layer = network.dynapcnn_layers[index]
        conv, spk = layer.conv_layer, layer.spk_layer
        plan_layer.weight = conv.weight.detach().clone()
        plan_layer.bias = None if conv.bias is None else conv.bias.detach().clone()
        plan_layer.threshold = float(spk.spike_threshold)
        plan_layer.min_v_mem = None if spk.min_v_mem is None else float(spk.min_v_mem)
        try:
            check_core_geometry(plan_layer, conv, chip)
            for dest in plan_layer.destinations:
                if dest.pooling not in chip.poolings:
                    raise SpeckModelError(
                        f"layer {plan_layer.name!r} (DynapcnnLayer {index}): pooling of {dest.pooling} is not "
                        f"supported; the chip pools by {', '.join(map(str, chip.poolings))}"
                    )
        except SpeckModelError as exc:
            raise ValueError(f"Generated config is not valid for {device}: {exc}") from exc
        v_mem = spk.v_mem[0] if spk.is_state_initialised() and spk.v_mem.dim() == 4 else None
        params.append(
            discretize_params(plan_layer.weight, plan_layer.bias, plan_layer.threshold, plan_layer.min_v_mem, v_mem)
        )
        placement[plan_layer.index] = layer2core[index]
    config = build_config(plan, params, placement, chip, device)
    for entry in config["layers"]:
        entry["monitor_enable"] = from_plan[entry["index"]] in monitored
    if config["dvs"] is not None:
        config["dvs"]["monitor_enable"] = any(str(m).lower() == "dvs" for m in monitored)
    return config
