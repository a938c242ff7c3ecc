"""Deprecated: the fixtures moved to :mod:`spikekit_testing.pytest_plugin` (distribution spikekit-testing)."""

from spikekit.testing import _moved

_new = _moved("spikekit.testing.pytest_plugin", "spikekit_testing.pytest_plugin")
spikekit_host = _new.spikekit_host
register_plugin = _new.register_plugin
__all__ = ["spikekit_host", "register_plugin"]
