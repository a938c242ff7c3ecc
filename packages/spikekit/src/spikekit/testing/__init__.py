"""Test helpers for spikekit and its plugins: temporary plugin registration, an isolated plugin host, and the
conformance suites that every plugin runs against itself.

Example (a third-party surrogate's test module)::

    from spikekit.testing import SurrogateConformance

    class TestMySurrogate(SurrogateConformance):
        def make_surrogate(self):
            return MySurrogate()
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import spikekit.plugins as _plugins
from spikekit.plugins import PluginHost
from spikekit.testing.conformance import BackendConformance, NeuronConformance, SurrogateConformance

__all__ = [
    "registered_plugin",
    "isolated_host",
    "NeuronConformance",
    "SurrogateConformance",
    "BackendConformance",
]


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
