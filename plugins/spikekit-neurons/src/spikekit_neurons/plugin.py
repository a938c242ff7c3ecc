"""spikekit hook implementations of spikekit-neurons (cheap to import: records only, lazy targets)."""

from __future__ import annotations

from spikekit.plugins import hookimpl
from spikekit.plugins.records import BackendSpec, EncoderSpec, Export
from spikekit_neurons._catalog import BACKENDS, ENCODERS, EXPORTS


@hookimpl
def spikekit_exports() -> list[Export]:
    return [Export(name, target, namespace=ns, description=desc) for name, target, ns, desc in EXPORTS]


@hookimpl
def spikekit_backends() -> list[BackendSpec]:
    return [BackendSpec(name, target, description=desc) for name, target, desc in BACKENDS]


@hookimpl
def spikekit_encoders() -> list[EncoderSpec]:
    return [EncoderSpec(name, target, description=desc) for name, target, desc in ENCODERS]
