"""spikekit hook implementations of spikekit-neurons (cheap to import: records only, lazy targets)."""

from __future__ import annotations

from spikekit.plugins import hookimpl
from spikekit.plugins.records import BackendSpec, EncoderSpec, Export
from spikekit_neurons._catalog import BACKENDS, ENCODERS, EXPORTS, MODULES


@hookimpl
def spikekit_exports() -> list[Export]:
    records = [Export(name, target, namespace=ns, description=desc) for name, target, ns, desc in EXPORTS]
    for name, module, ns in MODULES:
        description = f"sinabs's module {ns.replace('spikekit', 'sinabs', 1)}.{name}"
        records.append(Export(name, f"spikekit_neurons:{module}", namespace=ns, description=description))
    return records


@hookimpl
def spikekit_backends() -> list[BackendSpec]:
    return [BackendSpec(name, target, description=desc) for name, target, desc in BACKENDS]


@hookimpl
def spikekit_encoders() -> list[EncoderSpec]:
    return [EncoderSpec(name, target, description=desc) for name, target, desc in ENCODERS]
