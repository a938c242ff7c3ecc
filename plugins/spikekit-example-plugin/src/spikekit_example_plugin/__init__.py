"""An example third-party spikekit plugin: one surrogate gradient, :class:`TanhSurrogate`."""

from spikekit_example_plugin.tanh import TanhSurrogate

__all__ = ["TanhSurrogate"]
