"""Recognising spikekit's public layer and activation classes, resolved through the registry at call time.

The classes come from whichever plugin provides ``spikekit.layers.IAFSqueeze`` & co; this plugin never imports
another plugin's internals. When a name is not provided at all (the neuron plugin is not installed), the check
falls back to duck typing on the documented attributes.
"""

from __future__ import annotations

from typing import Any

__all__ = ["public_class", "is_instance_of", "spike_mode_of", "reset_mode_of"]


def public_class(namespace: str, name: str) -> Any:
    """``namespace.name`` resolved through the registry, or None if no installed plugin provides it."""
    import importlib

    module = importlib.import_module(namespace)
    try:
        return getattr(module, name)
    except (AttributeError, ImportError):
        return None


def is_instance_of(obj: Any, namespace: str, name: str) -> bool:
    """``isinstance(obj, namespace.name)``; False when the class is not provided."""
    cls = public_class(namespace, name)
    return isinstance(cls, type) and isinstance(obj, cls)


def spike_mode_of(layer: Any) -> tuple[str, int | None]:
    """``("multi", None)``, ``("single", None)`` or ``("max", n)`` for a neuron layer's ``spike_fn``."""
    fn = getattr(layer, "spike_fn", None)
    single = public_class("spikekit.activation", "SingleSpike")
    multi = public_class("spikekit.activation", "MultiSpike")
    max_spike = public_class("spikekit.activation", "MaxSpike")
    if fn is None or (multi is not None and fn is multi):
        return "multi", None
    if single is not None and fn is single:
        return "single", None
    if isinstance(max_spike, type) and isinstance(fn, max_spike):
        limit = getattr(fn, "max_num_spikes_per_bin", None)
        return ("multi", None) if limit is None else ("max", int(limit))
    name = getattr(fn, "__name__", type(fn).__name__)
    if name == "MultiSpike":
        return "multi", None
    if name == "SingleSpike":
        return "single", None
    if name == "MaxSpike" or hasattr(fn, "max_num_spikes_per_bin"):
        limit = getattr(fn, "max_num_spikes_per_bin", None)
        return ("multi", None) if limit is None else ("max", int(limit))
    raise ValueError(f"unknown spike function {name!r}: expected MultiSpike, SingleSpike or MaxSpike")


def reset_mode_of(layer: Any) -> tuple[bool, float | None]:
    """``(return_to_zero, value)``: ``(True, reset_value)`` for MembraneReset, ``(False, subtract_value)`` for
    MembraneSubtract (``None`` = subtract the threshold)."""
    fn = getattr(layer, "reset_fn", None)
    if fn is None:
        return False, None
    if is_instance_of(fn, "spikekit.activation", "MembraneReset") or (
        type(fn).__name__ == "MembraneReset" or hasattr(fn, "reset_value")
    ):
        return True, float(fn.reset_value)
    if is_instance_of(fn, "spikekit.activation", "MembraneSubtract") or (
        type(fn).__name__ == "MembraneSubtract" or hasattr(fn, "subtract_value")
    ):
        value = fn.subtract_value
        return False, None if value is None else float(value)
    raise ValueError(f"unknown reset function {type(fn).__name__}: expected MembraneSubtract or MembraneReset")
