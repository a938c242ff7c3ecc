"""spikekit's pytest fixtures, ``spikekit_host`` and ``register_plugin``: an opt-in pytest plugin.

spikekit-testing registers no ``pytest11`` entry point, so installing it changes no other project's test runs. Turn the
fixtures on where they are wanted, in one of three ways:

* on the command line: ``pytest -p spikekit_testing.pytest_plugin``;
* in the top-level ``conftest.py`` of a test suite: ``pytest_plugins = ["spikekit_testing.pytest_plugin"]``;
* in any ``conftest.py``: ``from spikekit_testing.pytest_plugin import register_plugin, spikekit_host``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from spikekit.plugins import PluginHost
from spikekit.testing import isolated_host


@pytest.fixture
def spikekit_host() -> Iterator[PluginHost]:
    """A fresh process-wide plugin host (entry points autoloaded) for one test."""
    with isolated_host() as h:
        yield h


@pytest.fixture
def register_plugin(spikekit_host: PluginHost) -> Callable[..., str]:
    """``register_plugin(obj, name=None, distribution=None)`` registers a plugin for this test only."""

    def _register(plugin: object, name: str | None = None, distribution: str | None = None) -> str:
        return spikekit_host.register(plugin, name=name, distribution=distribution)

    return _register
