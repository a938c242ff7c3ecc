"""Exceptions and warnings of spikekit and its plugin system."""

from __future__ import annotations

__all__ = [
    "SpikekitError",
    "PluginError",
    "PluginNotInstalledError",
    "PluginWarning",
    "BackendUnsupportedError",
    "BackendFallbackWarning",
]


class SpikekitError(Exception):
    """Base class of spikekit's own errors."""


class PluginError(SpikekitError):
    """A plugin failed to load, returned a malformed record, or clashed (raised in strict mode)."""


class PluginNotInstalledError(ImportError, SpikekitError):
    """A public name, backend or target was asked for whose provider is not installed (or failed to load).

    It is an :class:`ImportError`, so that ``from spikekit.layers import LIF`` shows which distribution to
    install (Python would replace an ``AttributeError`` by a bare "cannot import name"). A name that no known
    plugin provides raises a plain :class:`AttributeError`, as for any module.
    """


class PluginWarning(UserWarning):
    """A plugin was skipped: it failed to import, its hook raised, or it registered a clashing or bad record."""


class BackendUnsupportedError(SpikekitError):
    """The chosen compute backend cannot run a layer's configuration and fallback was set to ``"error"``."""


class BackendFallbackWarning(UserWarning):
    """A layer ran on the reference backend because the chosen one cannot run its configuration."""
