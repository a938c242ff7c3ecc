"""spikekit's pytest fixtures are opt-in: importing them here makes ``spikekit_host`` and ``register_plugin``
available to this directory's tests (``-p spikekit_testing.pytest_plugin`` on the command line does the same)."""

from spikekit_testing.pytest_plugin import register_plugin, spikekit_host  # noqa: F401
