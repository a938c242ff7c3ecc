"""Exceptions and warnings of spikekit and its plugin system."""

from __future__ import annotations

import sys
import warnings
from typing import Any

__all__ = [
    "SpikekitError",
    "PluginError",
    "PluginNotInstalledError",
    "MissingNameError",
    "MissingPluginImportError",
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


class PluginNotInstalledError(SpikekitError):
    """A public name, backend or target was asked for whose provider is not installed (or failed to load).

    What is raised is one of its two subclasses, so that Python's own protocols keep working:
    :class:`MissingNameError` (an :class:`AttributeError`) for an attribute of a namespace, so ``hasattr`` and
    ``getattr(module, name, default)`` answer instead of raising, and :class:`MissingPluginImportError` (an
    :class:`ImportError`) for ``from spikekit.layers import LIF`` (Python would replace an ``AttributeError`` there by
    a bare "cannot import name", losing which distribution to install) and for backends, targets and encoders.
    ``except PluginNotInstalledError`` catches both; ``PluginNotInstalledError(message)`` makes the
    :class:`ImportError` flavour (what it always was).
    """

    def __new__(cls, *args: object, **kwargs: object) -> PluginNotInstalledError:
        if cls is PluginNotInstalledError:
            return MissingPluginImportError.__new__(MissingPluginImportError, *args, **kwargs)
        return super().__new__(cls, *args, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self).__name__, self.args))  # by flavour: both are shown as this class


class MissingNameError(PluginNotInstalledError, AttributeError):
    """A namespace attribute whose provider is not installed: an :class:`AttributeError` (``hasattr`` is False)."""


class MissingPluginImportError(PluginNotInstalledError, ImportError):
    """A ``from ... import`` of a name, or a backend, target or encoder, whose provider is not installed."""


# Both flavours are shown as what users catch, "PluginNotInstalledError: ..."; pickles keep the flavour.
for _flavour in (MissingNameError, MissingPluginImportError):
    _flavour.__qualname__ = "PluginNotInstalledError"


def _rebuild(flavour: str, args: tuple[object, ...]) -> PluginNotInstalledError:
    cls: type[PluginNotInstalledError] = MissingNameError if flavour == "MissingNameError" else MissingPluginImportError
    return cls(*args)


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
