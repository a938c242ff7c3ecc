"""Deprecated: the conformance suites moved to :mod:`spikekit_testing.conformance` (distribution spikekit-testing)."""

from spikekit.testing import _moved

_new = _moved("spikekit.testing.conformance", "spikekit_testing.conformance")
NeuronConformance = _new.NeuronConformance
SurrogateConformance = _new.SurrogateConformance
BackendConformance = _new.BackendConformance
__all__ = ["NeuronConformance", "SurrogateConformance", "BackendConformance"]
