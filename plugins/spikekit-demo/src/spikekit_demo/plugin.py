"""spikekit-demo's hook implementations: the ``spikekit demo`` sub-command (cheap to import)."""

from __future__ import annotations

from spikekit.plugins import hookimpl
from spikekit.plugins.records import CommandSpec


@hookimpl
def spikekit_commands() -> list[CommandSpec]:
    return [
        CommandSpec(
            "demo",
            "spikekit_demo.cli:COMMAND",
            description="train a spiking CNN on scikit-learn's digits (BPTT and ANN conversion), print a report, "
            "write plots, the model and its NIR export",
        )
    ]
