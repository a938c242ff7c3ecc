"""The chip step: the converted network mapped to a neuromorphic chip target and run on its integer simulator.

sinabs users' work ends on the chip, so the demo's does too. The converted SNN's read-out (a linear layer whose
input current is averaged over time) becomes a layer of spiking neurons, as a chip needs: its weights are scaled so
that the 99.9th percentile of the read-out current per step on training samples reaches the threshold 1, and the
class is the output neuron with the most spikes. That network is mapped with ``spikekit.deploy`` onto the target
(``speck2f`` from spikekit-speck by default: checked against the chip's rules, weights and thresholds discretised
to its integers, layers placed on cores) and the deployment's simulator runs the test spike trains exactly as the
chip's integer arithmetic would. The report compares its accuracy with the same spiking network in floating point,
and lists the cores used with their memory.

Uses only the core's target API: ``spikekit.available_targets()``, ``spikekit.deploy(model, target,
input_shape)``, and of the deployment ``simulate(x)``, ``memory_summary()`` and ``config``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from typing import Any

import torch
from torch import nn

from spikekit_demo.model import INPUT_SHAPE, set_num_timesteps
from spikekit_demo.training import snn_logits

__all__ = ["ChipReport", "chip_network", "run_chip_step", "target_missing"]


@dataclasses.dataclass
class ChipReport:
    """The chip step's numbers.

    Attributes:
        target: the hardware target's name.
        samples: test samples run.
        float_accuracy: accuracy of the chip network (spiking read-out) in floating point.
        chip_accuracy: accuracy of the same network on the target's integer simulator.
        agreement: share of samples where both predict the same class.
        cores: one row per core used: ``core``, ``layer``, ``kernel`` / ``neuron`` / ``bias`` memory used and
            ``*_capacity`` (words), where the target reports them.
        config_json: the deployment's configuration as JSON text (written to the output folder).
        seconds: wall-clock seconds of mapping and simulation.
    """

    target: str
    samples: int
    float_accuracy: float
    chip_accuracy: float
    agreement: float
    cores: list[dict[str, Any]]
    config_json: str = dataclasses.field(repr=False)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("config_json")
        return out


def target_missing(name: str) -> str | None:
    """Why the chip step cannot run (no plugin registers target ``name``), or None."""
    import spikekit

    targets = spikekit.available_targets()
    if name in targets:
        return None
    known = ", ".join(sorted(targets)) or "none"
    return f"no hardware target {name!r} is installed (installed: {known}); pip install spikekit-speck"


@torch.no_grad()
def chip_network(converted: nn.Module, calibration: torch.Tensor, timesteps: int) -> nn.Sequential:
    """A copy of ``converted`` whose read-out is a layer of IAF neurons (see the module docstring).

    Args:
        converted: the converted SNN (its last layer is the linear read-out).
        calibration: training spike trains ``(N, T, 1, 8, 8)`` that set the read-out's scale.
        timesteps: T.
    """
    import spikekit.layers as sl

    current = snn_logits(converted, calibration)  # (N, 10): read-out current per step, averaged over time
    peak = float(torch.quantile(current.flatten(), 0.999))
    if not isinstance(converted, nn.Sequential):
        raise TypeError(f"chip_network: the converted network must be an nn.Sequential, got {type(converted).__name__}")
    layers = [copy.deepcopy(m) for m in converted]
    readout = layers[-1]
    if not isinstance(readout, nn.Linear):
        raise TypeError(f"chip step: expected the converted network to end in a Linear read-out, got {readout}")
    if peak > 0:
        readout.weight.mul_(1.0 / peak)
    neuron = sl.IAFSqueeze(num_timesteps=timesteps, spike_threshold=1.0, min_v_mem=-1.0)
    return nn.Sequential(*layers, neuron)


def _cores(deployment: Any) -> list[dict[str, Any]]:
    """The cores used, with their memory, from ``memory_summary()``."""
    summary = deployment.memory_summary()
    rows = getattr(summary, "cores", None)
    if rows is not None:  # per-core rows with capacities
        return [
            {k: row[k] for k in row if k == "core" or k == "layer" or k.endswith(("_used", "_capacity"))}
            for row in rows
            if row.get("layer") is not None
        ]
    # a sinabs-style dict {"kernel": {layer: words}, "neuron": ..., "bias": ...} and the layer -> core map
    layer2core = dict(getattr(deployment, "layer2core", {}))
    return [
        {"core": layer2core.get(layer), "layer": layer, **{f"{k}_used": summary[k][layer] for k in summary}}
        for layer in summary["kernel"]
    ]


@torch.no_grad()
def _counts(model: nn.Module, spikes: torch.Tensor) -> torch.Tensor:
    """Output spike counts ``(N, classes)`` of the floating-point network."""
    from spikekit.utils import reset_states

    model.eval()
    counts = []
    for batch in spikes.split(256):
        reset_states(model)
        out = model(batch.flatten(0, 1))  # (B*T, classes)
        counts.append(out.reshape(batch.shape[0], batch.shape[1], -1).sum(1))
    return torch.cat(counts)


def run_chip_step(
    converted: nn.Module,
    calibration: torch.Tensor,
    spikes: torch.Tensor,
    labels: torch.Tensor,
    *,
    timesteps: int,
    target: str,
) -> ChipReport:
    """Map the chip network to ``target``, simulate ``spikes`` ``(N, T, 1, 8, 8)`` and compare with float."""
    import spikekit

    start = time.perf_counter()
    model = chip_network(converted, calibration, timesteps)
    set_num_timesteps(model, timesteps)
    deployment = spikekit.deploy(model, target, input_shape=INPUT_SHAPE)
    float_pred = _counts(model, spikes).argmax(1)
    chip_out = deployment.simulate(spikes)  # (N, T, classes, 1, 1) integer spike counts
    chip_pred = chip_out.reshape(spikes.shape[0], spikes.shape[1], -1).sum(1).argmax(1)
    return ChipReport(
        target=target,
        samples=len(labels),
        float_accuracy=float((float_pred == labels).float().mean()),
        chip_accuracy=float((chip_pred == labels).float().mean()),
        agreement=float((float_pred == chip_pred).float().mean()),
        cores=_cores(deployment),
        config_json=json.dumps(deployment.config, indent=1) + "\n",
        seconds=time.perf_counter() - start,
    )
