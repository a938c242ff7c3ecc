"""The whole-document check of a ``spikekit-speck`` configuration (a file is a trust boundary).

:func:`check_config` type-checks every field the simulator, the samna writer and the memory report read, checks
every value against the chip's ranges, and checks that the layers fit together (shapes, cores, destinations that
point to later layers, every layer fed). Anything else raises ``ValueError`` naming the field, e.g.
``configuration field 'layers[1].dimensions.stride.x': expected an integer in [1, 8], got 3``. A document that passes
runs in :class:`~spikekit_speck.simulator.ChipSimulator` on input of its ``input_shape``.
"""

from __future__ import annotations

import math
from typing import Any

from spikekit_speck.chip import SPECK, ChipSpec
from spikekit_speck.mapping import memory_of

__all__ = ["check_config", "FORMAT", "VERSION"]

FORMAT = "spikekit-speck"
VERSION = 1
_MAX_SIZE = 1 << 12  # largest height / width (and network input channel count) a configuration may declare
_SPIKE_MODES = ("multi", "single", "max")


def _fail(path: str, expected: str, got: Any) -> ValueError:
    shown = repr(got)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return ValueError(f"configuration field {path!r}: expected {expected}, got {type(got).__name__} {shown}")


def _dict(value: Any, path: str, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, "an object", value)
    for key in keys:
        if key not in value:
            raise ValueError(f"configuration field {path!r} is missing {key!r}")
    return value


def _list(value: Any, path: str, length: int | None = None, most: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(path, "a list", value)
    if length is not None and len(value) != length:
        raise _fail(path, f"a list of {length} entries", value)
    if most is not None and len(value) > most:
        raise _fail(path, f"a list of at most {most} entries", value)
    return value


def _int(value: Any, path: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise _fail(path, f"an integer in [{low}, {high}]", value)
    return value


def _bool(value: Any, path: str) -> bool:
    if type(value) is not bool:
        raise _fail(path, "true or false", value)
    return value


def _xy(value: Any, path: str, low: int, high: int) -> tuple[int, int]:
    """``{"x", "y"}`` -> ``(y, x)``."""
    d = _dict(value, path, ("x", "y"))
    return _int(d["y"], f"{path}.y", low, high), _int(d["x"], f"{path}.x", low, high)


def _shape(value: Any, path: str, max_features: int) -> tuple[int, int, int]:
    """``{"size": {"x", "y"}, "feature_count"}`` -> ``(C, H, W)``."""
    d = _dict(value, path, ("size", "feature_count"))
    h, w = _xy(d["size"], f"{path}.size", 1, _MAX_SIZE)
    return _int(d["feature_count"], f"{path}.feature_count", 1, max_features), h, w


def _ints(value: Any, path: str, dims: tuple[int, ...], low: int, high: int) -> None:
    """A nested list of integers in ``[low, high]`` with exactly the lengths ``dims``."""
    _list(value, path, dims[0])
    for i, item in enumerate(value):
        if len(dims) > 1:
            _ints(item, f"{path}[{i}]", dims[1:], low, high)
        else:
            _int(item, f"{path}[{i}]", low, high)


def check_config(config: Any, chip: ChipSpec = SPECK) -> None:
    """Raise ``ValueError`` naming the field unless ``config`` is a valid version-1 configuration."""
    top = _dict(config, "<document>", ("format", "version"))
    if top["format"] != FORMAT:
        raise _fail("format", repr(FORMAT), top["format"])
    if top["version"] != VERSION or type(top["version"]) is not int:
        raise ValueError(
            f"configuration field 'version': unsupported {FORMAT} configuration version {top['version']!r}; "
            f"expected {VERSION}"
        )
    _dict(top, "<document>", ("device", "input_shape", "input_layers", "dvs", "layers"))
    if not isinstance(top["device"], str):
        raise _fail("device", "a device name", top["device"])
    input_shape = tuple(
        _int(v, f"input_shape[{i}]", 1, _MAX_SIZE) for i, v in enumerate(_list(top["input_shape"], "input_shape", 3))
    )
    layers = _list(top["layers"], "layers", most=chip.num_cores)
    shapes = [_check_layer(layer, i, chip) for i, layer in enumerate(layers)]
    core_to_index = {layer["core"]: i for i, layer in enumerate(layers)}
    if len(core_to_index) != len(layers):
        raise ValueError("configuration field 'layers': two layers use the same core")
    fed = _check_destinations(layers, shapes, core_to_index, chip)
    for k, index in enumerate(_list(top["input_layers"], "input_layers", most=len(layers))):
        _int(index, f"input_layers[{k}]", 0, len(layers) - 1)
        _fits(input_shape, shapes[index][0], f"input_layers[{k}]", "the network input")
        fed.add(index)
    if top["dvs"] is not None:
        fed |= _check_dvs(top["dvs"], input_shape, shapes, core_to_index)
    for i in range(len(layers)):
        if i not in fed:
            raise ValueError(f"configuration field 'layers[{i}]': the layer receives no input")
    if "memory" in top:
        _check_memory(top["memory"])


_LAYER_KEYS = (
    "index", "core", "dimensions", "weights", "biases", "leak_enable", "threshold_high", "threshold_low",
    "return_to_zero", "neurons_initial_value", "destinations", "outputs", "spike_mode",
)  # fmt: skip


def _check_layer(value: Any, i: int, chip: ChipSpec) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """One layer's fields; returns its (input, output) shapes ``(C, H, W)``."""
    p = f"layers[{i}]"
    layer = _dict(value, p, _LAYER_KEYS)
    if layer["index"] != i or type(layer["index"]) is not int:
        raise _fail(f"{p}.index", f"{i} (layers are listed in order)", layer["index"])
    core = _int(layer["core"], f"{p}.core", 0, chip.num_cores - 1)
    for key in ("name", "neuron_name"):
        if key in layer and not isinstance(layer[key], str):
            raise _fail(f"{p}.{key}", "a string", layer[key])
    in_shape, out_shape, k = _check_dimensions(layer["dimensions"], f"{p}.dimensions", chip)
    w_low, w_high = chip.weight_range
    s_low, s_high = chip.state_range
    _ints(layer["weights"], f"{p}.weights", (out_shape[0], in_shape[0], k, k), w_low, w_high)
    _ints(layer["biases"], f"{p}.biases", (out_shape[0],), w_low, w_high)
    _ints(
        layer["neurons_initial_value"],
        f"{p}.neurons_initial_value",
        (out_shape[0], out_shape[2], out_shape[1]),
        s_low,
        s_high,
    )
    _int(layer["threshold_high"], f"{p}.threshold_high", 1, s_high)
    _int(layer["threshold_low"], f"{p}.threshold_low", s_low, s_high)
    for key in ("leak_enable", "return_to_zero", *(("monitor_enable",) if "monitor_enable" in layer else ())):
        _bool(layer[key], f"{p}.{key}")
    if layer["spike_mode"] not in _SPIKE_MODES:
        raise _fail(f"{p}.spike_mode", " or ".join(map(repr, _SPIKE_MODES)), layer["spike_mode"])
    limit = layer.get("max_spikes")
    if layer["spike_mode"] == "max" or limit is not None:
        _int(limit, f"{p}.max_spikes", 1, s_high)
    if "scale" in layer:
        scale = layer["scale"]
        if type(scale) not in (int, float) or not math.isfinite(scale) or scale <= 0:
            raise _fail(f"{p}.scale", "a positive finite number", scale)
    _check_memory_fits(in_shape, out_shape, k, core, p, chip)
    for j, out in enumerate(_list(layer["outputs"], f"{p}.outputs", most=chip.max_destinations)):
        _int(
            _dict(out, f"{p}.outputs[{j}]", ("pooling",))["pooling"], f"{p}.outputs[{j}].pooling", 1, max(chip.poolings)
        )
    return in_shape, out_shape


def _check_dimensions(value: Any, p: str, chip: ChipSpec) -> tuple[tuple[int, int, int], tuple[int, int, int], int]:
    dims = _dict(value, p, ("input_shape", "output_shape", "padding", "stride", "kernel_size"))
    in_shape, out_shape = (
        _shape(dims["input_shape"], f"{p}.input_shape", chip.max_feature_count),
        _shape(dims["output_shape"], f"{p}.output_shape", chip.max_feature_count),
    )
    k = _int(dims["kernel_size"], f"{p}.kernel_size", 1, chip.max_kernel_size)
    padding = _xy(dims["padding"], f"{p}.padding", 0, chip.max_kernel_size)
    stride = _xy(dims["stride"], f"{p}.stride", 1, max(chip.strides))
    for axis, s in zip("yx", stride):
        if s not in chip.strides:
            raise _fail(f"{p}.stride.{axis}", f"one of {list(chip.strides)}", s)
    expected = tuple((in_shape[d + 1] + 2 * padding[d] - k) // stride[d] + 1 for d in (0, 1))
    if expected != out_shape[1:]:
        raise ValueError(
            f"configuration field {p + '.output_shape'!r}: a {k}x{k} kernel with stride {stride} and padding "
            f"{padding} on input {in_shape[1:]} gives {expected} (y, x), not {out_shape[1:]}"
        )
    return in_shape, out_shape, k


def _check_memory_fits(in_shape: Any, out_shape: Any, k: int, core: int, p: str, chip: ChipSpec) -> None:
    c_out, h, w = out_shape
    need = memory_of(in_shape[0], c_out, (k, k), (h, w), True)
    limits = chip.cores[core]
    have = {"kernel": limits.kernel_memory, "neuron": limits.neuron_memory, "bias": limits.bias_memory}
    if any(need[key] > have[key] for key in have):
        raise ValueError(
            f"configuration field {p!r}: the layer needs kernel memory {need['kernel']}, neuron memory "
            f"{need['neuron']} and {need['bias']} biases; core {core} has {have['kernel']}, {have['neuron']} and "
            f"{have['bias']}"
        )


def _fits(shape: tuple[int, ...], into: tuple[int, int, int], path: str, what: str) -> None:
    if any(a > b for a, b in zip(shape, into)):
        raise ValueError(
            f"configuration field {path!r}: {what} of shape {tuple(shape)} exceeds the layer's input {into}"
        )


def _check_destinations(
    layers: list[Any], shapes: list[Any], core_to_index: dict[int, int], chip: ChipSpec
) -> set[int]:
    """Each destination names a later layer's core and what it sends fits that layer's input; the layers fed."""
    fed = set()
    for i, layer in enumerate(layers):
        p = f"layers[{i}].destinations"
        for j, dest in enumerate(_list(layer["destinations"], p, most=2)):
            d = _dict(dest, f"{p}[{j}]", ("layer", "pooling"))
            target = core_to_index.get(_int(d["layer"], f"{p}[{j}].layer", 0, 2**31))
            if target is None or target <= i:
                raise _fail(f"{p}[{j}].layer", "the core of a later layer", d["layer"])
            pool = _int(d["pooling"], f"{p}[{j}].pooling", 1, max(chip.poolings))
            if pool not in chip.poolings:
                raise _fail(f"{p}[{j}].pooling", f"one of {list(chip.poolings)}", pool)
            if "enable" in d:
                _bool(d["enable"], f"{p}[{j}].enable")
            c, h, w = shapes[i][1]
            _fits((c, h // pool, w // pool), shapes[target][0], f"{p}[{j}]", "the pooled output")
            fed.add(target)
    return fed


def _check_dvs(value: Any, input_shape: tuple[int, ...], shapes: list[Any], core_to_index: dict[int, int]) -> set[int]:
    keys = ("merge", "mirror", "mirror_diagonal", "cut", "origin", "pooling", "pass_sensor_events", "destinations")
    dvs = _dict(value, "dvs", keys)
    for key in (
        "merge",
        "mirror_diagonal",
        "pass_sensor_events",
        *(("monitor_enable",) if "monitor_enable" in dvs else ()),
    ):
        _bool(dvs[key], f"dvs.{key}")
    mirror = _dict(dvs["mirror"], "dvs.mirror", ("x", "y"))
    _bool(mirror["x"], "dvs.mirror.x"), _bool(mirror["y"], "dvs.mirror.y")
    if "input_shape" in dvs:
        _list(dvs["input_shape"], "dvs.input_shape", 3)
    py, px = _xy(dvs["pooling"], "dvs.pooling", 1, 4)
    h, w = input_shape[1] // py, input_shape[2] // px
    oy, ox = _xy(dvs["origin"], "dvs.origin", 0, max(h, w) - 1)
    cy, cx = _xy(dvs["cut"], "dvs.cut", 0, max(h, w) - 1)
    if not (oy <= cy < h and ox <= cx < w):
        raise ValueError(
            f"configuration field 'dvs.cut': origin {(oy, ox)} to cut {(cy, cx)} (y, x) is not a region of the pooled input {(h, w)}"
        )
    out = (1 if dvs["merge"] else input_shape[0], cy - oy + 1, cx - ox + 1)
    if dvs["mirror_diagonal"]:
        out = (out[0], out[2], out[1])
    fed = set()
    for j, core in enumerate(_list(dvs["destinations"], "dvs.destinations", most=2)):
        target = core_to_index.get(_int(core, f"dvs.destinations[{j}]", 0, 2**31))
        if target is None:
            raise _fail(f"dvs.destinations[{j}]", "the core of a layer", core)
        _fits(out, shapes[target][0], f"dvs.destinations[{j}]", "the DVS output")
        fed.add(target)
    return fed


_MEMORY_ROW = ("layer", "core", "kernel", "neuron", "bias", "kernel_capacity", "neuron_capacity")


def _check_memory(value: Any) -> None:
    memory = _dict(value, "memory", ("layers", "cores"))
    for i, row in enumerate(_list(memory["layers"], "memory.layers", most=64)):
        row = _dict(row, f"memory.layers[{i}]", _MEMORY_ROW)
        for key in _MEMORY_ROW:
            _int(row[key], f"memory.layers[{i}].{key}", 0, 2**31)
        if not isinstance(row.get("name"), str):
            raise _fail(f"memory.layers[{i}].name", "a string", row.get("name"))
    for i, row in enumerate(_list(memory["cores"], "memory.cores", most=64)):
        _dict(row, f"memory.cores[{i}]", ())
