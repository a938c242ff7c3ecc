"""The versioned JSON configuration of a mapped network: everything a vendor SDK needs, nothing torch-specific.

Format ``spikekit-speck``, version 1 (see ``docs/speck/config-format.md`` for every field)::

    {
      "format": "spikekit-speck", "version": 1, "device": "speck2fdevkit",
      "input_shape": [C, H, W],          # one time step of the network input
      "input_layers": [0],               # layers fed directly by the input (not through the DVS layer)
      "dvs": null | {input_shape, merge, mirror{x,y}, mirror_diagonal, cut{x,y}, origin{x,y}, pooling{x,y},
                     pass_sensor_events, destinations: [core, ...]},
      "layers": [                        # topological order; "core" is where each one runs
        {"index", "name", "neuron_name", "core",
         "dimensions": {"input_shape": {"size": {"x", "y"}, "feature_count"}, "output_shape": {...},
                        "padding": {"x", "y"}, "stride": {"x", "y"}, "kernel_size": k},
         "weights": [C_out][C_in][k_x][k_y] ints (x before y, the vendor's convention),
         "biases": [C_out] ints, "leak_enable": bool,
         "threshold_high": int, "threshold_low": int, "return_to_zero": bool,
         "neurons_initial_value": [C_out][W][H] ints,
         "destinations": [{"layer": core, "enable": true, "pooling": p}],   # at most 2
         "outputs": [{"pooling": p}],   # network outputs read from this layer (after software pooling)
         "spike_mode": "multi" | "single" | "max", "max_spikes": int | null,
         "scale": float,                # common discretisation factor (integer = scale * float)
         "monitor_enable": bool}
      ],
      "memory": {"layers": [...], "cores": [...]}
    }
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch

from spikekit_speck.chip import CHIP_NAMES, SPECK, ChipSpec, chip_spec
from spikekit_speck.config_check import FORMAT, VERSION, check_config
from spikekit_speck.discretize import DiscreteLayerParams
from spikekit_speck.graph import NetworkPlan
from spikekit_speck.mapping import MemoryReport

__all__ = ["FORMAT", "VERSION", "build_config", "core_settings", "to_json", "from_json", "validate_config"]


def _as_int(t: torch.Tensor) -> torch.Tensor:
    return torch.round(t).to(torch.int64)


def _shape_dict(shape: tuple[int, int, int]) -> dict[str, Any]:
    c, h, w = shape
    return {"size": {"x": int(w), "y": int(h)}, "feature_count": int(c)}


def core_settings(
    in_shape: tuple[int, int, int],
    weight: torch.Tensor,
    bias: torch.Tensor,
    stride: tuple[int, int],
    padding: tuple[int, int],
    thresholds: tuple[int, int],
    return_to_zero: bool,
    state: torch.Tensor,
    destinations: list[dict[str, Any]],
    leak_enable: bool | None = None,
) -> dict[str, Any]:
    """The settings of one core, as the chip's configuration names them (plain Python values): what the JSON
    configuration holds for each layer and what is written into samna's core configuration.

    Args:
        in_shape: ``(C, H, W)`` arriving at the core.
        weight: integer ``(C_out, C_in, k, k)`` (y before x); written x before y, the vendor's layout.
        bias: integer ``(C_out,)``; the leak is enabled when any is non-zero.
        stride, padding: ``(y, x)``.
        thresholds: ``(threshold_high, threshold_low)``.
        return_to_zero: reset to zero (else subtract the threshold).
        state: integer ``(C_out, H', W')`` initial neuron states; written ``[C][W][H]``.
        destinations: ``{"layer": core, "enable": True, "pooling": p}`` each.
        leak_enable: default: any bias is non-zero.
    """
    c_out, h, w = state.shape
    return {
        "dimensions": {
            "input_shape": _shape_dict(in_shape),
            "output_shape": _shape_dict((c_out, h, w)),
            "padding": {"x": int(padding[1]), "y": int(padding[0])},
            "stride": {"x": int(stride[1]), "y": int(stride[0])},
            "kernel_size": int(weight.shape[-1]),
        },
        "weights": weight.transpose(2, 3).tolist(),
        "biases": bias.tolist(),
        "leak_enable": bool((bias != 0).any()) if leak_enable is None else bool(leak_enable),
        "return_to_zero": bool(return_to_zero),
        "threshold_high": int(thresholds[0]),
        "threshold_low": int(thresholds[1]),
        "monitor_enable": False,
        "neurons_initial_value": state.transpose(1, 2).tolist(),
        "destinations": destinations,
    }


def _layer_entry(layer: Any, p: DiscreteLayerParams, layer2core: dict[int, int]) -> dict[str, Any]:
    """One layer of the JSON configuration: its core's settings plus what the simulator and the report read."""
    c, h, w = layer.neuron_shape
    state = torch.zeros(c, h, w) if p.v_mem is None else p.v_mem.reshape(c, h, w)
    destinations = [
        {"layer": layer2core[d.target], "enable": True, "pooling": d.pooling}
        for d in layer.destinations
        if d.target is not None
    ]
    settings = core_settings(
        layer.input_shape,
        _as_int(p.weight),
        _as_int(p.bias),
        layer.stride,
        layer.padding,
        (p.threshold, p.min_v_mem),
        layer.return_to_zero,
        _as_int(state),
        destinations,
    )
    outputs = [{"pooling": d.pooling} for d in layer.destinations if d.target is None]
    return {
        "index": layer.index,
        "name": layer.name,
        "neuron_name": layer.neuron_name,
        "core": layer2core[layer.index],
        **settings,
        "outputs": outputs,
        "spike_mode": layer.spike_mode,
        "max_spikes": layer.max_spikes,
        "scale": p.scale,
        "monitor_enable": bool(outputs),
    }


def build_config(
    plan: NetworkPlan,
    params: list[DiscreteLayerParams],
    layer2core: dict[int, int],
    chip: ChipSpec,
    device: str,
) -> dict[str, Any]:
    """The configuration dict of a planned, discretised and mapped network (JSON-serialisable)."""
    layers = [_layer_entry(layer, p, layer2core) for layer, p in zip(plan.layers, params)]
    dvs = None
    if plan.dvs is not None:
        dvs = {"input_shape": list(plan.dvs.input_shape), **plan.dvs.get_config_dict()}
        dvs["destinations"] = [layer2core[k] for k in plan.dvs_destinations]
    config = {
        "format": FORMAT,
        "version": VERSION,
        "device": device,
        "input_shape": list(plan.input_shape),
        "input_layers": list(plan.entry_layers),
        "dvs": dvs,
        "layers": layers,
        "memory": MemoryReport.build(plan.layers, layer2core, chip).as_dict(),
    }
    validate_config(config)
    return config


def validate_config(config: Any) -> None:
    """Raise ``ValueError`` naming the field unless ``config`` is a valid version-1 configuration (every field's
    type and range, and how the layers fit together: see :mod:`spikekit_speck.config_check`)."""
    check_config(config, chip_spec(config["device"]) if _names_device(config) else SPECK)


def _names_device(config: Any) -> bool:
    return (
        isinstance(config, dict)
        and isinstance(config.get("device"), str)
        and config["device"].split(":")[0] in CHIP_NAMES
    )


def to_json(config: dict[str, Any], path: str | None = None, indent: int | None = None) -> str:
    """Serialise ``config`` to JSON text (and write it to ``path`` when given)."""
    text = json.dumps(config, indent=indent)
    if path is not None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    return text


def from_json(text_or_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a configuration from JSON text or a file path, and validate it.

    A string that names an existing file is read from it; any other string is parsed as JSON text.

    Raises:
        ValueError: the text is not JSON (NaN and infinities included) or not a valid configuration; the message
            names the field.
        OSError: the file cannot be read.
    """
    text = os.fspath(text_or_path)
    if not isinstance(text, str):
        raise TypeError(f"from_json expects JSON text or a file path, got {type(text_or_path).__name__}")
    if os.path.isfile(text):
        with open(text, encoding="utf-8") as fh:
            text = fh.read()
    try:
        config = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("the configuration is nested too deeply to be read") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"the configuration is not JSON text (nor a file path): {exc}") from None
    validate_config(config)
    return config


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"the configuration holds {name}, which is not a number JSON allows")
