"""Recognising spikekit's public layer and activation classes, resolved through the registry at call time.

The classes come from whichever plugin provides ``spikekit.layers.IAFSqueeze`` & co; this plugin never imports
another plugin's internals. Spike and reset functions are recognised by the
:class:`~spikekit.protocols.ActivationSpec` they carry, whoever wrote them.
"""

from __future__ import annotations

import numbers
from typing import Any

import torch

__all__ = ["public_class", "is_instance_of", "number_of", "spike_mode_of", "threshold_of", "reset_mode_of"]


def public_class(namespace: str, name: str) -> Any:
    """``namespace.name`` resolved through the registry, or None if no installed plugin provides it."""
    import importlib

    module = importlib.import_module(namespace)
    try:
        return getattr(module, name)
    except (AttributeError, ImportError):
        return None


def number_of(layer: Any, name: str, required: bool = False) -> torch.Tensor | float | None:
    """``layer.<name>``, a tensor or a number (None when the layer has no such attribute, unless ``required``).

    For the neuron parameters of a layer whose class another plugin defines (``spike_threshold``, ``min_v_mem``).
    """
    value = getattr(layer, name) if required else getattr(layer, name, None)
    if value is None or isinstance(value, (torch.Tensor, int, float)):
        return value
    if isinstance(value, numbers.Real):  # numpy scalars, for instance
        return float(value)
    raise TypeError(f"{type(layer).__name__}.{name} should be a tensor or a number, got {type(value).__name__}")


def threshold_of(layer: Any) -> torch.Tensor | float:
    """``layer.spike_threshold`` (see :func:`number_of`), which a layer on the chip must have."""
    value = number_of(layer, "spike_threshold", required=True)
    if value is None:
        raise ValueError(f"{type(layer).__name__} has spike_threshold None; a chip layer needs a threshold")
    return value


def is_instance_of(obj: Any, namespace: str, name: str) -> bool:
    """``isinstance(obj, namespace.name)``; False when the class is not provided."""
    cls = public_class(namespace, name)
    return isinstance(cls, type) and isinstance(obj, cls)


def spike_mode_of(layer: Any) -> tuple[str, int | None]:
    """``("multi", None)``, ``("single", None)`` or ``("max", n)`` for a neuron layer's ``spike_fn``, read from the
    function's :class:`~spikekit.protocols.ActivationSpec` (a layer without a spike function counts as multi)."""
    from spikekit.protocols import spec_of

    fn = getattr(layer, "spike_fn", None)
    if fn is None:
        return "multi", None
    spec = spec_of(fn, "spike")
    kind = spec.kind if spec is not None else None
    if kind == "multi_spike":
        return "multi", None
    if kind == "single_spike":
        return "single", None
    if kind == "max_spike" and spec is not None:
        limit = spec.number("max_num_spikes_per_bin")
        return ("multi", None) if limit is None else ("max", int(limit))
    name = getattr(fn, "__name__", type(fn).__name__)
    what = "has no spec" if spec is None else f"is of kind {kind!r}"
    raise ValueError(f"spike function {name!r} {what}: expected kind multi_spike, single_spike or max_spike")


def reset_mode_of(layer: Any) -> tuple[bool, float | None]:
    """``(return_to_zero, value)``: ``(True, reset_value)`` for a reset of kind ``reset`` (MembraneReset),
    ``(False, subtract_value)`` for kind ``subtract`` (MembraneSubtract; ``None`` = subtract the threshold), read
    from the function's :class:`~spikekit.protocols.ActivationSpec`."""
    from spikekit.protocols import spec_of

    fn = getattr(layer, "reset_fn", None)
    if fn is None:
        return False, None
    spec = spec_of(fn, "reset")
    if spec is not None and spec.kind == "reset":
        return True, spec.number("reset_value") or 0.0
    if spec is not None and spec.kind == "subtract":
        return False, spec.number("subtract_value")
    what = "has no spec" if spec is None else f"is of kind {spec.kind!r}"
    raise ValueError(f"reset function {type(fn).__name__} {what}: expected kind subtract or reset")
