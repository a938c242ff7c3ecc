"""First-party NIR mappings of spikekit's neuron layers, ``SumPool2d`` and ``Merge``.

The layers come from whichever plugin exports them in ``spikekit.layers`` / ``spikekit.activation`` (resolved when
a conversion runs). The arithmetic follows :mod:`spikekit_nir.conventions`; spikekit-only details that NIR cannot
state (subtractive reset, multi-spike, ``min_v_mem``) travel in the node's ``metadata`` under ``spikekit_*`` keys,
so that spikekit -> NIR -> spikekit is exact, and a warning says when a reader following the chosen convention
would run the node differently.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import nir
import numpy as np
import torch
from torch import nn

from spikekit_nir.conventions import Convention, ConversionError
from spikekit_nir.modules import Scale
from spikekit_nir.neuron_node import NeuronNode
from spikekit_nir.registry import PASSTHROUGH, ExportContext, ImportContext, class_path, metadata_value

_RTOL = 1e-6  # float32 precision: gains within this of 1 (or of 1 - alpha) are taken as exactly that


class NIRConventionWarning(UserWarning):
    """An exported node carries spikekit details that a reader using the chosen convention will not apply."""


def _layers() -> Any:
    import spikekit.layers as layers

    return layers


def _activation() -> Any:
    import spikekit.activation as activation

    return activation


# ----------------------------------------------------------------------------------------------------- export
def _float64_array(x: Any) -> np.ndarray:
    """``x`` (tensor, array or number) as a float64 array."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().to(torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _float64_broadcast(x: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``x`` (tensor, array or number) as a float64 array of ``shape`` (a copy)."""
    return np.broadcast_to(_float64_array(x), shape).copy()


def _spike_name(fn: Any) -> str:
    return fn.__name__ if isinstance(fn, type) else type(fn).__name__


def _neuron_shape(module: nn.Module, ctx: ExportContext, recurrent: bool = False) -> tuple[int, ...]:
    """The layer's neuron shape: its state's, or (as sinabs counts) its input's when the state has no neuron dim."""
    if not recurrent and getattr(module, "rec_connect", None) is not None:
        raise ConversionError(
            f"to_nir: {ctx.name!r} ({type(module).__name__}) has a rec_connect but is no LIFRecurrent or "
            "IAFRecurrent, whose converters write the recurrent pattern"
        )
    v = getattr(module, "v_mem", None)
    if v is None or v.numel() == 0:
        raise ConversionError(
            f"to_nir: {ctx.name!r} ({type(module).__name__}) has no state; run sample data through it"
        )
    shape = tuple(int(s) for s in v.shape[1:])
    if not shape and ctx.input_shape:
        shape = tuple(ctx.input_shape)  # a (batch, features) sample: the neurons the feeding layer gives
    return shape


def _spiking_details(
    module: nn.Module, ctx: ExportContext, shape: tuple[int, ...]
) -> tuple[np.ndarray, dict[str, Any]]:
    """(v_reset, metadata) of a spiking layer, warning where the convention's reader would differ."""
    from spikekit.protocols import spec_of  # what the activations say they are, never their class names

    convention = ctx.convention
    spike_spec = spec_of(module.spike_fn, "spike")
    spike = {"multi_spike": "MultiSpike", "single_spike": "SingleSpike"}.get(spike_spec.kind if spike_spec else "")
    if spike is None:
        what = "no spec" if spike_spec is None else f"kind {spike_spec.kind!r}"
        raise ConversionError(
            f"to_nir: {ctx.name!r} uses spike function {_spike_name(module.spike_fn)} ({what}); NIR export supports "
            "spike functions of kind multi_spike (MultiSpike) and single_spike (SingleSpike)"
        )
    reset_fn = module.reset_fn
    reset_spec = spec_of(reset_fn, "reset")
    metadata: dict[str, Any] = {"spikekit_class": class_path(type(module)), "spikekit_spike_fn": spike}
    if reset_spec is not None and reset_spec.kind == "subtract":
        if reset_spec.params.get("subtract_value") is not None:
            raise ConversionError(f"to_nir: {ctx.name!r} subtracts a fixed value on spikes, which NIR cannot express")
        metadata["spikekit_reset"] = "subtract"
        v_reset = np.zeros(shape)
    elif reset_spec is not None and reset_spec.kind == "reset":
        metadata["spikekit_reset"] = "to_v_reset"
        v_reset = _float64_broadcast(reset_spec.params.get("reset_value", 0.0), shape)
    else:
        what = "no spec" if reset_spec is None else f"kind {reset_spec.kind!r}"
        raise ConversionError(
            f"to_nir: {ctx.name!r} uses reset {type(reset_fn).__name__} ({what}), which NIR cannot express"
        )
    min_v = module.min_v_mem
    metadata["spikekit_min_v_mem"] = "none" if min_v is None else _float64_broadcast(min_v, shape)
    differences = []
    if (spike == "MultiSpike") != (convention.spike == "multi"):
        differences.append(f"spike function {spike} (convention: {convention.spike})")
    if metadata["spikekit_reset"] != convention.reset:
        differences.append(f"reset {metadata['spikekit_reset']} (convention: {convention.reset})")
    if min_v is not None and not _floor_expected(module, convention, min_v):
        differences.append("min_v_mem")
    if differences:
        warnings.warn(
            f"to_nir: {ctx.name!r} ({type(module).__name__}) has {', '.join(differences)}; NIR cannot state this, so "
            f"it is kept in the node's metadata for spikekit only, and a reader following the {convention.name!r} "
            "convention will run this node differently",
            NIRConventionWarning,
            stacklevel=4,
        )
    return v_reset, metadata


def _floor_expected(module: nn.Module, convention: Convention, min_v: Any) -> bool:
    """True where the convention's reader gives the layer this floor anyway (sinabs: IF at -threshold)."""
    if (
        not convention.if_floor
        or getattr(module, "tau_mem", None) is not None
        or getattr(module, "tau_syn", None) is not None
    ):
        return False
    return bool(torch.equal(torch.as_tensor(min_v, dtype=torch.float32), -torch.as_tensor(module.spike_threshold)))


def _finite(name: str, what: str, arr: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(arr)):
        raise ConversionError(f"to_nir: {name!r}: {what} is not finite under this convention ({arr.ravel()[:4]} ...)")
    return arr


def _membrane(module: nn.Module, ctx: ExportContext, shape: tuple[int, ...], leaky: bool) -> dict[str, np.ndarray]:
    """tau (NIR) and r of the membrane of a LIF / IAF / ExpLeak layer."""
    convention = ctx.convention
    if leaky:
        tau_steps = _float64_broadcast(module.tau_mem_calculated, shape)
        tau = convention.tau_from_steps(tau_steps)
        alpha = np.exp(-1.0 / tau_steps)
        gain = (1.0 - alpha) if module.norm_input else np.ones(shape)
    else:
        tau = np.full(shape, np.inf)
        gain = np.ones(shape)
    r = convention.r_from_gain(gain, tau if leaky else None)
    return {"tau": tau, "r": _finite(ctx.name, "r", r)}


def _synapse(module: nn.Module, ctx: ExportContext, shape: tuple[int, ...]) -> dict[str, np.ndarray] | None:
    tau_syn_steps = getattr(module, "tau_syn_calculated", None)
    if tau_syn_steps is None:
        return None
    tau_syn_steps = _float64_broadcast(tau_syn_steps, shape)
    tau_syn = ctx.convention.tau_from_steps(tau_syn_steps)
    alpha_syn = np.exp(-1.0 / tau_syn_steps)
    w_in = ctx.convention.w_in_from_gain(alpha_syn, tau_syn)  # spikekit: i = a (i + x), so x enters with gain a
    return {"tau_syn": _finite(ctx.name, "tau_syn", tau_syn), "w_in": _finite(ctx.name, "w_in", w_in)}


def spiking_node(module: nn.Module, ctx: ExportContext, leaky: bool, recurrent: bool = False) -> nir.NIRNode:
    """The NIR ``LIF`` / ``IF`` / ``CubaLIF`` node of a spiking layer (``recurrent``: its rec_connect left aside)."""
    shape = _neuron_shape(module, ctx, recurrent)
    threshold = _float64_broadcast(module.spike_threshold, shape)
    v_reset, metadata = _spiking_details(module, ctx, shape)
    membrane = _membrane(module, ctx, shape, leaky)
    synapse = _synapse(module, ctx, shape)
    v_leak = np.zeros(shape)
    if synapse is not None:
        return nir.CubaLIF(
            tau_syn=synapse["tau_syn"], tau_mem=membrane["tau"], r=membrane["r"], v_leak=v_leak,
            v_threshold=threshold, v_reset=v_reset, w_in=synapse["w_in"], metadata=metadata,
        )  # fmt: skip
    if not leaky:
        return nir.IF(r=membrane["r"], v_threshold=threshold, v_reset=v_reset, metadata=metadata)
    return nir.LIF(
        tau=membrane["tau"], r=membrane["r"], v_leak=v_leak, v_threshold=threshold, v_reset=v_reset, metadata=metadata
    )


def export_lif(module: nn.Module, ctx: ExportContext) -> nir.NIRNode:
    """LIF / LIFSqueeze -> NIR ``LIF``, or ``CubaLIF`` with a synapse."""
    return spiking_node(module, ctx, leaky=True)


def export_iaf(module: nn.Module, ctx: ExportContext) -> nir.NIRNode:
    """IAF / IAFSqueeze -> NIR ``IF``, or ``CubaLIF`` (``tau_mem = inf``) with a synapse."""
    return spiking_node(module, ctx, leaky=False)


def export_expleak(module: nn.Module, ctx: ExportContext) -> nir.NIRNode:
    """ExpLeak / ExpLeakSqueeze -> NIR ``LI`` (``I`` when ``tau_mem`` is infinite)."""
    shape = _neuron_shape(module, ctx)
    metadata: dict[str, Any] = {"spikekit_class": class_path(type(module))}
    if module.min_v_mem is not None:
        metadata["spikekit_min_v_mem"] = _float64_broadcast(module.min_v_mem, shape)
        warnings.warn(
            f"to_nir: {ctx.name!r} has min_v_mem, which NIR cannot state; it is kept in metadata for spikekit only",
            NIRConventionWarning,
            stacklevel=3,
        )
    tau_steps = _float64_broadcast(module.tau_mem_calculated, shape)
    if np.all(np.isinf(tau_steps)):
        return nir.I(r=_finite(ctx.name, "r", ctx.convention.r_from_gain(np.ones(shape), None)), metadata=metadata)
    membrane = _membrane(module, ctx, shape, leaky=True)
    return nir.LI(tau=membrane["tau"], r=membrane["r"], v_leak=np.zeros(shape), metadata=metadata)


def export_sumpool2d(module: nn.Module, ctx: ExportContext) -> nir.NIRNode:
    """SumPool2d -> NIR ``SumPool2d`` (no padding)."""
    if getattr(module, "ceil_mode", False):
        raise ConversionError(f"to_nir: {ctx.name!r} (SumPool2d) uses ceil_mode, which NIR cannot express")

    def pair(v: Any) -> np.ndarray:
        t = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
        return np.array([int(t[0]), int(t[-1])], dtype=np.int64)

    kernel = pair(module.kernel_size)
    stride = kernel if module.stride is None else pair(module.stride)
    return nir.SumPool2d(kernel_size=kernel, stride=stride, padding=np.zeros(2, dtype=np.int64))


def export_merge(module: nn.Module, ctx: ExportContext) -> Any:
    """Merge -> the sum of its inputs (several NIR edges into the consumers); equal shapes only."""
    if ctx.input_shape is not None and ctx.output_shape is not None and ctx.input_shape != ctx.output_shape:
        raise ConversionError(
            f"to_nir: Merge {ctx.name!r} zero-pads inputs of different shapes ({ctx.input_shape} -> "
            f"{ctx.output_shape}); NIR sums only equal shapes"
        )
    return PASSTHROUGH


# ----------------------------------------------------------------------------------------------------- import
_metadata_value = metadata_value


def _compact(arr: np.ndarray) -> torch.Tensor:
    """A float32 tensor: 0-d when every element is the same, else per neuron."""
    flat = arr.ravel()
    if flat.size and np.all(flat == flat[0]):
        return torch.tensor(float(flat[0]), dtype=torch.float32)
    return torch.tensor(arr, dtype=torch.float32)


def _is_one(x: np.ndarray) -> bool:
    return bool(np.allclose(x, 1.0, rtol=0, atol=_RTOL))


def _check_decay_factors(name: str, node: Any, a: np.ndarray, what: str, convention: Convention) -> None:
    if not np.all((a > 0) & (a <= 1)):
        raise ConversionError(
            f"from_nir: node {name!r} ({type(node).__name__}): {what} gives decay factors outside (0, 1] with "
            f"dt={convention.dt} ({convention.decay}); choose a smaller dt"
        )


def _resting(node: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The node's ``v_leak`` (zeros when it has none), broadcast with ``shape`` (the threshold's or the gain's)."""
    value = getattr(node, "v_leak", None)
    if value is None:
        return np.zeros(shape)
    rest = _float64_array(value)
    try:
        return np.broadcast_to(rest, np.broadcast_shapes(rest.shape, shape)).copy()
    except ValueError as exc:
        raise ConversionError(
            f"from_nir: node {type(node).__name__}: v_leak of shape {rest.shape} does not fit the shape {shape}"
        ) from exc


def _shifted_threshold(node: Any, ctx: ImportContext, rest: np.ndarray) -> torch.Tensor:
    """The layer's threshold, measured from the resting potential (see :mod:`spikekit_nir.neuron_node`)."""
    threshold = _float64_array(node.v_threshold)
    shifted = threshold - rest
    if np.any(shifted <= 0):
        raise ConversionError(
            f"from_nir: node {ctx.name!r} ({type(node).__name__}): v_threshold - v_leak must be > 0 (a neuron resting "
            f"at or above its threshold), got {shifted.ravel()[:4].tolist()}"
        )
    return _compact(shifted)


def _spike_and_reset(node: Any, ctx: ImportContext, rest: np.ndarray | None = None) -> dict[str, Any]:
    activation = _activation()
    spike = _metadata_value(node, "spikekit_spike_fn") or (
        "MultiSpike" if ctx.convention.spike == "multi" else "SingleSpike"
    )
    reset = _metadata_value(node, "spikekit_reset") or ctx.convention.reset
    kwargs: dict[str, Any] = {"spike_fn": getattr(activation, spike)}
    v_reset = _float64_array(node.v_reset) if getattr(node, "v_reset", None) is not None else np.zeros(1)
    if reset == "subtract":
        if _metadata_value(node, "spikekit_reset") is None and np.any(v_reset != 0):
            raise ConversionError(
                f"from_nir: node {ctx.name!r} ({type(node).__name__}) has v_reset != 0, but convention "
                f"{ctx.convention.name!r} resets by subtraction; use a convention with reset='to_v_reset'"
            )
        subtract = None if rest is None or not np.any(rest) else _compact(_float64_array(node.v_threshold))
        kwargs["reset_fn"] = activation.MembraneSubtract(subtract_value=subtract)
    else:
        if rest is not None:
            v_reset = v_reset - rest
        flat = v_reset.ravel()
        if not np.all(flat == flat[0]) and rest is not None and np.any(rest):
            # per-neuron resting potentials shift one reset value into one per neuron
            kwargs["reset_fn"] = activation.MembraneReset(reset_value=_compact(v_reset))
            return kwargs
        if not np.all(flat == flat[0]):
            raise ConversionError(
                f"from_nir: node {ctx.name!r} ({type(node).__name__}) has per-neuron v_reset values; spikekit's "
                "MembraneReset takes one reset value"
            )
        kwargs["reset_fn"] = activation.MembraneReset(reset_value=float(flat[0]))
    return kwargs


def _min_v_mem(node: Any, default: Any, rest: np.ndarray | None = None) -> Any:
    value = _metadata_value(node, "spikekit_min_v_mem")
    if value is None:
        return default
    if isinstance(value, str):
        return None if value == "none" else default
    floor = _float64_array(value)
    return _compact(floor if rest is None else floor - rest)


def _squeeze_kwargs(ctx: ImportContext, node: Any) -> dict[str, Any]:
    ctx.require_time(node)
    return {"batch_size": ctx.batch_size, "num_timesteps": ctx.num_timesteps}


def _assemble(layer: nn.Module, gain: np.ndarray, rest: np.ndarray | None = None, trace: bool = False) -> nn.Module:
    """The layer alone, or a :class:`NeuronNode` with the input gain and the resting potential it lacks."""
    resting = rest is not None and bool(np.any(rest))
    if _is_one(gain) and not resting:
        return layer
    scale = None if _is_one(gain) else Scale(_compact(gain))
    v_leak = _compact(rest) if resting and rest is not None else torch.tensor(0.0)
    return NeuronNode(layer, scale, v_leak=v_leak, output_offset=trace and resting)


def _membrane_import(node: Any, ctx: ImportContext, tau: np.ndarray | None) -> tuple[Any, bool, np.ndarray]:
    """(spikekit tau_mem, norm_input, input gain still to apply) of a membrane with NIR ``tau`` (None: no leak)."""
    convention = ctx.convention
    r = _float64_array(node.r)
    if tau is None:
        return math.inf, False, convention.membrane_gain(r, None)
    decay = convention.decay_factor(tau)
    _check_decay_factors(ctx.name, node, decay, "tau", convention)
    gain = convention.membrane_gain(r, tau)
    if _is_one(gain):
        return _compact(convention.tau_steps(tau)), False, np.ones_like(gain)
    if np.allclose(gain, 1.0 - decay, rtol=_RTOL, atol=0):
        return _compact(convention.tau_steps(tau)), True, np.ones_like(gain)
    return _compact(convention.tau_steps(tau)), False, gain


def import_lif(node: nir.LIF, ctx: ImportContext) -> nn.Module:
    """NIR ``LIF`` -> ``LIFSqueeze``."""
    rest = _resting(node, np.shape(node.v_threshold))
    tau_mem, norm_input, gain = _membrane_import(node, ctx, _float64_array(node.tau))
    layer = _layers().LIFSqueeze(
        tau_mem=tau_mem, spike_threshold=_shifted_threshold(node, ctx, rest), norm_input=norm_input,
        min_v_mem=_min_v_mem(node, None, rest), **_spike_and_reset(node, ctx, rest), **_squeeze_kwargs(ctx, node),
    )  # fmt: skip
    return _assemble(layer, gain, rest)


def import_cubalif(node: nir.CubaLIF, ctx: ImportContext) -> nn.Module:
    """NIR ``CubaLIF`` -> ``LIFSqueeze`` with ``tau_syn`` (``IAFSqueeze`` with ``tau_syn`` when tau_mem is inf)."""
    convention = ctx.convention
    rest = _resting(node, np.shape(node.v_threshold))
    tau_syn = _float64_array(node.tau_syn)
    decay_syn = convention.decay_factor(tau_syn)
    _check_decay_factors(ctx.name, node, decay_syn, "tau_syn", convention)
    gain_syn = convention.synapse_gain(_float64_array(node.w_in), tau_syn)
    tau_syn_steps = convention.tau_steps(tau_syn)
    alpha_syn = np.exp(-1.0 / tau_syn_steps.astype(np.float32).astype(np.float64))  # what spikekit will compute
    tau_mem = _float64_array(node.tau_mem)
    leaky = not np.all(np.isinf(tau_mem))
    tau_mem_steps, norm_input, gain = _membrane_import(node, ctx, tau_mem if leaky else None)
    common = dict(
        tau_syn=_compact(tau_syn_steps), spike_threshold=_shifted_threshold(node, ctx, rest),
        min_v_mem=_min_v_mem(node, None, rest), **_spike_and_reset(node, ctx, rest), **_squeeze_kwargs(ctx, node),
    )  # fmt: skip
    if leaky:
        layer = _layers().LIFSqueeze(tau_mem=tau_mem_steps, norm_input=norm_input, **common)
    else:
        layer = _layers().IAFSqueeze(**common)
    return _assemble(layer, gain * gain_syn / alpha_syn, rest)


def import_if(node: nir.IF, ctx: ImportContext) -> nn.Module:
    """NIR ``IF`` -> ``IAFSqueeze`` (with ``min_v_mem = -v_threshold`` under ``if_floor``, as sinabs does)."""
    threshold = _compact(_float64_array(node.v_threshold))
    _, _, gain = _membrane_import(node, ctx, None)
    layer = _layers().IAFSqueeze(
        spike_threshold=threshold, min_v_mem=_min_v_mem(node, -threshold if ctx.convention.if_floor else None),
        **_spike_and_reset(node, ctx), **_squeeze_kwargs(ctx, node),
    )  # fmt: skip
    return _assemble(layer, gain)


def import_li(node: nir.LI, ctx: ImportContext) -> nn.Module:
    """NIR ``LI`` -> ``ExpLeakSqueeze`` (its output is the membrane trace)."""
    rest = _resting(node, np.shape(node.r))
    tau_mem, norm_input, gain = _membrane_import(node, ctx, _float64_array(node.tau))
    layer = _layers().ExpLeakSqueeze(
        tau_mem=tau_mem, norm_input=norm_input, min_v_mem=_min_v_mem(node, None, rest), **_squeeze_kwargs(ctx, node)
    )
    return _assemble(layer, gain, rest, trace=True)


def import_i(node: nir.I, ctx: ImportContext) -> nn.Module:
    """NIR ``I`` (integrator) -> ``ExpLeakSqueeze`` with ``tau_mem = inf`` (decay 1, no input normalisation)."""
    _, _, gain = _membrane_import(node, ctx, None)
    layer = _layers().ExpLeakSqueeze(
        tau_mem=math.inf, norm_input=False, min_v_mem=_min_v_mem(node, None), **_squeeze_kwargs(ctx, node)
    )
    return _assemble(layer, gain)


def import_sumpool2d(node: nir.SumPool2d, ctx: ImportContext) -> nn.Module:
    """NIR ``SumPool2d`` -> ``spikekit.layers.SumPool2d`` (padding must be 0)."""
    padding = np.atleast_1d(np.asarray(node.padding))
    if np.any(padding != 0):
        raise ConversionError(
            f"from_nir: SumPool2d node {ctx.name!r} has padding {padding.tolist()}; spikekit's has none"
        )

    def pair(v: Any) -> tuple[int, int]:
        arr = np.atleast_1d(np.asarray(v)).astype(np.int64)
        return (int(arr[0]), int(arr[-1]))

    return _layers().SumPool2d(kernel_size=pair(node.kernel_size), stride=pair(node.stride))


__all__ = [
    "NIRConventionWarning",
    "spiking_node",
    "export_lif",
    "export_iaf",
    "export_expleak",
    "export_sumpool2d",
    "export_merge",
    "import_lif",
    "import_cubalif",
    "import_if",
    "import_li",
    "import_i",
    "import_sumpool2d",
]
