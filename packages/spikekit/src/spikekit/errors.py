"""Exceptions and warnings of spikekit and its plugin system."""

from __future__ import annotations

import sys
import warnings

__all__ = [
    "SpikekitError",
    "PluginError",
    "PluginNotInstalledError",
    "PluginWarning",
    "BackendUnsupportedError",
    "BackendFallbackWarning",
    "warn_at_caller",
]

#: Module-name prefixes of library frames that :func:`warn_at_caller` steps over.
_LIBRARY_PREFIXES = ("spikekit", "torch", "pluggy", "importlib", "contextlib", "functools", "warnings")


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


def _stacklevel(skip: tuple[str, ...]) -> int:
    """The ``stacklevel`` of the first frame, outwards from our caller's caller, not in a module under ``skip``."""
    frame = sys._getframe(2)  # the frame that called warn_at_caller
    level = 2
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not any(module == p or module.startswith(p + ".") or module.startswith(p + "_") for p in skip):
            return level
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return 2


def warn_at_caller(message: str, category: type[Warning], *, skip: tuple[str, ...] = _LIBRARY_PREFIXES) -> None:
    """Warn at the first line outside spikekit, its plugins (``spikekit_*``), torch and pluggy: the user's line.

    Example:
        >>> warn_at_caller("deprecated", DeprecationWarning)  # doctest: +SKIP
    """
    warnings.warn(message, category, stacklevel=_stacklevel(skip))
