"""Spike encoders: turn values (images, signals) into spike trains. Plugins register them through the
``spikekit_encoders`` hook; :func:`get` finds one by name."""

from __future__ import annotations

from typing import Any

from spikekit.errors import PluginNotInstalledError
from spikekit.plugins import host

__all__ = ["get", "available_encoders"]


def get(name: str) -> Any:
    """The encoder registered as ``name`` (a callable or module class)."""
    spec = host().encoders().get(name)
    if spec is None:
        known = ", ".join(sorted(host().encoders())) or "none"
        raise PluginNotInstalledError(f"no spike encoder named {name!r} is installed (installed: {known})")
    return spec.load()


def available_encoders() -> dict[str, str]:
    """``{name: description}`` of every registered encoder."""
    return {name: spec.description for name, spec in host().encoders().items()}
