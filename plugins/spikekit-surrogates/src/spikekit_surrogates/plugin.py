"""The spikekit hook implementations of spikekit-surrogates (cheap to import: lazy paths only)."""

from __future__ import annotations

from spikekit.plugins import hookimpl
from spikekit.plugins.records import Export
from spikekit_surrogates._catalog import ALIASES, SINABS_MODULE, SURROGATES

__all__ = ["SURROGATES", "spikekit_exports"]


@hookimpl
def spikekit_exports() -> list[Export]:
    records = [
        Export(name, f"{module}:{ALIASES.get(name, name)}", description=text, namespace="spikekit.activation")
        for name, module, text in SURROGATES
    ]
    module = "sinabs's module sinabs.activation.surrogate_gradient_fn"
    records.append(Export("surrogate_gradient_fn", SINABS_MODULE, description=module, namespace="spikekit.activation"))
    return records
