"""Plugin-host helpers for tests: temporary plugin registration and an isolated plugin host (no pytest needed).

The conformance suites and the pytest fixtures moved to their own distribution, ``spikekit-testing`` (import
``spikekit_testing``), so that the core needs no pytest. Their old paths (``spikekit.testing.NeuronConformance``,
``spikekit.testing.conformance``, ``spikekit.testing.pytest_plugin``) keep working for a release with a
``DeprecationWarning`` where ``spikekit-testing`` is installed.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterable, Iterator
from typing import Any

import spikekit.plugins as _plugins
from spikekit.errors import warn_at_caller
from spikekit.plugins import PluginHost

__all__ = ["registered_plugin", "isolated_host"]

_MOVED = ("NeuronConformance", "SurrogateConformance", "BackendConformance")


def _moved(old: str, new: str) -> Any:
    """The module ``new`` (``spikekit_testing...``), imported for its deprecated path ``old``, with the warning."""
    warn_at_caller(f"{old} is deprecated: use {new} (distribution spikekit-testing)", DeprecationWarning)
    try:
        return importlib.import_module(new)
    except ImportError as exc:
        raise ImportError(f"{old} moved to {new}: pip install spikekit-testing ({exc})") from exc


def __getattr__(name: str) -> Any:
    if name in _MOVED:  # warned once: kept here after the first use (a from-import asks twice)
        return globals().setdefault(name, getattr(_moved(f"spikekit.testing.{name}", "spikekit_testing"), name))
    raise AttributeError(f"module 'spikekit.testing' has no attribute {name!r}")


@contextlib.contextmanager
def registered_plugin(plugin: object, name: str | None = None, distribution: str | None = None) -> Iterator[str]:
    """Register ``plugin`` on the process-wide host for the duration of the block."""
    registered = _plugins.register(plugin, name=name, distribution=distribution)
    try:
        yield registered
    finally:
        _plugins.unregister(registered)


@contextlib.contextmanager
def isolated_host(
    *, autoload: bool | None = None, blocked: Iterable[str] | None = None, strict: bool | None = None
) -> Iterator[PluginHost]:
    """Give the block a fresh process-wide host with these switches; restore the previous host afterwards."""
    previous = _plugins._host
    fresh = _plugins.configure(autoload=autoload, blocked=blocked, strict=strict)
    try:
        yield fresh
    finally:
        with _plugins._host_lock:
            _plugins._host = previous
            if previous is not None:
                previous._invalidate()  # anything cached against the fresh host is stale now
