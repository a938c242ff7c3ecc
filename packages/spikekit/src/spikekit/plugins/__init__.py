"""spikekit's plugin system: hook markers, records, and the process-wide plugin host.

Plugin authors need :data:`hookimpl` and the records, and perhaps :func:`lazy_exports` for their package's
``__init__.py``::

    from spikekit.plugins import hookimpl, Export

Everything else goes through :func:`host` (discovery is lazy: the first call loads the entry points).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import pluggy

from spikekit.plugins.hookspecs import PROJECT_NAME
from spikekit.plugins.lazy import lazy_exports
from spikekit.plugins.manager import ENTRY_POINT_GROUP, PluginFailure, PluginHost, PluginInfo
from spikekit.plugins.records import (
    NAMESPACE_DISTRIBUTIONS,
    NAMESPACES,
    BackendSpec,
    CommandSpec,
    ConverterSpec,
    EncoderSpec,
    Export,
    Record,
    TargetSpec,
)

__all__ = [
    "hookimpl",
    "lazy_exports",
    "host",
    "configure",
    "register",
    "unregister",
    "PluginHost",
    "PluginInfo",
    "PluginFailure",
    "Record",
    "Export",
    "BackendSpec",
    "TargetSpec",
    "ConverterSpec",
    "EncoderSpec",
    "CommandSpec",
    "NAMESPACES",
    "NAMESPACE_DISTRIBUTIONS",
    "ENTRY_POINT_GROUP",
]

#: Marks a function as the implementation of a spikekit hook.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

_host: PluginHost | None = None
_host_lock = threading.Lock()


def host() -> PluginHost:
    """The process-wide :class:`PluginHost`, created on first use (entry points load on the first lookup)."""
    global _host
    if _host is None:
        with _host_lock:
            if _host is None:
                _host = PluginHost()
    return _host


def configure(
    *, autoload: bool | None = None, blocked: Iterable[str] | None = None, strict: bool | None = None
) -> PluginHost:
    """Replace the process-wide host by a new one with these switches (None: read the environment variable).

    Plugins registered by hand on the old host are not carried over.
    """
    global _host
    with _host_lock:
        _host = PluginHost(autoload=autoload, blocked=blocked, strict=strict)
    return _host


def register(plugin: object, name: str | None = None, distribution: str | None = None) -> str:
    """Register a plugin object (a module or instance with hook implementations) on the process-wide host."""
    return host().register(plugin, name=name, distribution=distribution)


def unregister(name: str) -> None:
    """Unregister the plugin registered as ``name``."""
    host().unregister(name)
