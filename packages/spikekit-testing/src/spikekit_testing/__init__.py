"""Conformance suites and fixtures for spikekit plugins: subclass a suite, fill in one method, inherit every check.

Example (a third-party surrogate's test module)::

    from spikekit_testing import SurrogateConformance

    class TestMySurrogate(SurrogateConformance):
        def make_surrogate(self):
            return MySurrogate()

The fixtures are an opt-in pytest plugin (:mod:`spikekit_testing.pytest_plugin`); the plugin-host helpers
:func:`registered_plugin` and :func:`isolated_host` come from the core (:mod:`spikekit.testing`).
"""

from __future__ import annotations

from spikekit.testing import isolated_host, registered_plugin
from spikekit_testing.conformance import BackendConformance, NeuronConformance, SurrogateConformance

__all__ = [
    "registered_plugin",
    "isolated_host",
    "NeuronConformance",
    "SurrogateConformance",
    "BackendConformance",
]
