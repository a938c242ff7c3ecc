"""Hook implementations (records with lazy targets only). ``SPIKEKIT_THIRDPARTY_BREAK`` switches on a broken variant."""

from __future__ import annotations

import os

from spikekit.plugins import BackendSpec, CommandSpec, ConverterSpec, Export, hookimpl

BREAK = os.environ.get("SPIKEKIT_THIRDPARTY_BREAK", "")
if BREAK == "import":
    raise ImportError("spikekit-thirdparty: broken on purpose at import (SPIKEKIT_THIRDPARTY_BREAK=import)")

_PKG = "spikekit_thirdparty"


@hookimpl
def spikekit_exports() -> list[Export]:
    if BREAK == "hook":
        raise RuntimeError("spikekit-thirdparty: broken on purpose in spikekit_exports")
    exports = [
        Export("DendriticLIF", f"{_PKG}.neuron:DendriticLIF", description="two-compartment LIF (a StepModel)"),
        Export("AtLeastSpike", f"{_PKG}.activations:AtLeastSpike", namespace="spikekit.activation"),
        Export("InverseSquare", f"{_PKG}.activations:InverseSquare", namespace="spikekit.activation"),
    ]
    if BREAK == "clash":
        exports.append(Export("LIF", f"{_PKG}.neuron:DendriticLIF", description="clashes with spikekit-neurons"))
    return exports


@hookimpl
def spikekit_backends() -> list[BackendSpec]:
    return [BackendSpec("thirdparty-loop", f"{_PKG}.backend:StepLoopBackend", description="step models, own loop")]


@hookimpl
def spikekit_converters() -> list[ConverterSpec]:
    return [ConverterSpec(f"{_PKG}.neuron.DendriticLIF", f"{_PKG}.nir_mapping:export_dendritic_lif", format="nir")]


@hookimpl
def spikekit_commands() -> list[CommandSpec]:
    module = f"{_PKG}.missing_cli" if BREAK == "command" else f"{_PKG}.cli"
    return [CommandSpec("thirdparty-hello", f"{module}:COMMAND", description="say hello from a third party")]


if BREAK == "typo":

    @hookimpl
    def spikekit_export() -> list[Export]:  # misspelled on purpose: must be reported, not ignored
        return []
