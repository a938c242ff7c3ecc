"""The spikekit hook implementations of spikekit-surrogates (cheap to import: lazy paths only)."""

from __future__ import annotations

from spikekit.plugins import hookimpl
from spikekit.plugins.records import Export
from spikekit_surrogates._catalog import ALIASES, SURROGATES

__all__ = ["SURROGATES", "spikekit_exports"]


@hookimpl
def spikekit_exports() -> list[Export]:
    return [
        Export(name, f"{module}:{ALIASES.get(name, name)}", description=text, namespace="spikekit.activation")
        for name, module, text in SURROGATES
    ]
