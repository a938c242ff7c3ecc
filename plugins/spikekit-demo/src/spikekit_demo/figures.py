"""The demo's plots, drawn with ``spikekit.plot`` on matplotlib figures (no GUI backend) and saved as PNG."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from spikekit_demo.model import readout, spiking_layers
from spikekit_demo.outputs import OutputFolder

__all__ = ["write_figures", "record_sample"]

DPI = 90
#: Neurons shown per layer in the raster (a dense layer of 1024 rows would be a solid block at this size).
RASTER_NEURONS = 128


def _figure(rows: int, cols: int, size: tuple[float, float]) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, axes


@torch.no_grad()
def record_sample(model: nn.Module, sample: torch.Tensor) -> dict[str, Any]:
    """Run one sample ``(1, T, 1, 8, 8)`` through a copy of ``model``, recording each neuron layer's spikes and
    membrane potential, and the read-out over time.

    Returns:
        ``{"input": (T, 64), "spikes": {name: (T, N)}, "v_mem": {name: (T, N)}, "readout": (T, 10),
        "threshold": {name: float}}``; a layer that does not record ``v_mem`` is left out of ``"v_mem"``.
    """
    from spikekit.utils import reset_states

    timesteps = sample.shape[1]
    probe = copy.deepcopy(model).eval()
    spikes: dict[str, torch.Tensor] = {}
    handles = []
    layers = spiking_layers(probe)
    for name, layer in layers:
        setattr(layer, "record_states", True)  # noqa: B010 (a plain attribute of the neuron layers)

        def hook(module: nn.Module, inputs: Any, output: torch.Tensor, name: str = name) -> None:
            spikes[name] = output.detach().reshape(timesteps, -1)  # (1*T, ...) -> (T, N)

        handles.append(layer.register_forward_hook(hook))
    reset_states(probe)
    out = probe(sample.flatten(0, 1))  # (T, 10)
    for h in handles:
        h.remove()
    v_mem = {}
    thresholds = {}
    for name, layer in layers:
        recordings = getattr(layer, "recordings", None) or {}
        if "v_mem" in recordings:
            v = torch.as_tensor(recordings["v_mem"]).detach()
            v_mem[name] = v.reshape(timesteps, -1)  # (1, T, ...) -> (T, N)
        thresholds[name] = float(torch.as_tensor(layer.spike_threshold).flatten()[0])
    # the read-out's "membrane": the running mean of the output layer's input current
    steps = torch.arange(1, timesteps + 1, dtype=out.dtype).unsqueeze(1)
    running = out.cumsum(0) / steps  # (T, 10); its last row is readout(out, T)
    assert torch.allclose(running[-1], readout(out, timesteps)[0], atol=1e-5)
    return {
        "input": sample[0].reshape(timesteps, -1),
        "spikes": spikes,
        "v_mem": v_mem,
        "readout": running,
        "threshold": thresholds,
    }


def _typical_neurons(counts: torch.Tensor, target: int, k: int) -> torch.Tensor:
    """``k`` neurons that spiked, those whose spike count is closest to ``target`` (ties: lowest index)."""
    distance = (counts - target).abs() + (counts == 0) * 1e9  # silent neurons last
    return torch.argsort(distance, stable=True)[:k]


def _save(fig: Any, out: OutputFolder, name: str) -> str:
    def draw(path: Any) -> None:
        with warnings.catch_warnings():  # matplotlib's note that placing a legend ("best") over many bars is slow
            warnings.filterwarnings("ignore", message='Creating legend with loc="best" can be slow')
            fig.savefig(path, dpi=DPI, format="png")

    return out.write(name, draw)


def _raster(rec: dict[str, Any], label: int) -> Any:
    """Spike raster of the input and of each layer, for one test sample."""
    import spikekit.plot as skp

    names = list(rec["spikes"])
    fig, axes = _figure(1, len(names) + 1, (3.2 * (len(names) + 1), 3.2))
    skp.raster(rec["input"], ax=axes[0, 0], title=f"input (digit {label}), 64 pixels", markersize=6)
    for ax, name in zip(axes[0, 1:], names):
        s = rec["spikes"][name]
        shown = min(s.shape[1], RASTER_NEURONS)
        what = f"{s.shape[1]}" if shown == s.shape[1] else f"{shown} of {s.shape[1]}"
        skp.raster(s[:, :shown], ax=ax, title=f"layer {name}: {what} IAF", markersize=8)
    fig.suptitle("Spike rasters of the BPTT-trained SNN, one test sample")
    return fig


def _membrane(rec: dict[str, Any], label: int, timesteps: int) -> Any:
    """Membrane traces: three neurons of each layer that spike about every fourth step, and the read-out."""
    import spikekit.plot as skp

    panels = [n for n in rec["spikes"] if n in rec["v_mem"]]
    fig, axes = _figure(1, len(panels) + 1, (3.6 * (len(panels) + 1), 3.2))
    for ax, name in zip(axes[0], panels):
        v, s = rec["v_mem"][name], rec["spikes"][name]
        pick = _typical_neurons(s.sum(0), timesteps // 4, 3)
        skp.membrane_trace(
            v[:, pick], ax=ax, threshold=rec["threshold"][name], spikes=s[:, pick], title=f"layer {name}: 3 neurons"
        )
    ax = axes[0, len(panels)]
    skp.membrane_trace(rec["readout"], ax=ax)
    for k, line in enumerate(ax.get_lines()[:10]):
        line.set_alpha(1.0 if k == label else 0.35)
        line.set_linewidth(2.0 if k == label else 1.0)
    ax.set_title(f"read-out (mean input current);\nthick: class {label}, the true digit", fontsize="medium")
    fig.suptitle("Membrane potentials, one test sample (dots: spikes; dashed: threshold)")
    return fig


def _accuracy_vs_timesteps(sweep: dict[str, dict[int, float]], ann_accuracy: float, timesteps: int) -> Any:
    fig, axes = _figure(1, 1, (5.0, 3.4))
    ax = axes[0, 0]
    for name, acc in sweep.items():
        if acc:
            steps = sorted(acc)
            ax.plot(steps, [100 * acc[t] for t in steps], "o-", label=name)
    ax.axhline(100 * ann_accuracy, color="gray", linestyle="--", label="ANN")
    ax.axvline(timesteps, color="gray", linestyle=":", linewidth=1)
    ax.set_xscale("log", base=2)
    ticks = sorted({t for acc in sweep.values() for t in acc})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("time steps T")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize="small")
    ax.set_title("Accuracy against time steps")
    return fig


def _training_curves(snn_history: Sequence[Any], ann_history: Sequence[Any]) -> Any:
    fig, axes = _figure(1, 2, (8.0, 3.2))
    for name, history, color in (("SNN (BPTT)", snn_history, "C0"), ("ANN", ann_history, "C1")):
        epochs = [r.epoch for r in history]
        axes[0, 0].plot(epochs, [r.loss for r in history], "o-", color=color, label=name)
        axes[0, 1].plot(epochs, [100 * r.train_acc for r in history], "o--", color=color, label=f"{name} train")
        axes[0, 1].plot(epochs, [100 * r.test_acc for r in history], "o-", color=color, label=f"{name} test")
    axes[0, 0].set(xlabel="epoch", ylabel="training loss", title="Loss")
    axes[0, 1].set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy (dashed: train, solid: test)")
    for ax in axes[0]:
        ax.legend(fontsize="small")
        ax.xaxis.get_major_locator().set_params(integer=True)
    return fig


def _firing_rates(layers: dict[str, list[Any]]) -> Any:
    import spikekit.plot as skp

    fig, axes = _figure(1, len(layers), (4.2 * len(layers), 3.2))
    for ax, (model_name, rows) in zip(axes[0], layers.items()):
        rates = {f"layer {r.name}": np.asarray(r.rates) for r in rows if r.rates is not None}
        skp.firing_rate_histogram(rates, ax=ax, title=model_name)
    return fig


def write_figures(
    out: OutputFolder,
    *,
    snn: nn.Module,
    converted: nn.Module | None,
    sample: torch.Tensor,
    label: int,
    snn_history: Sequence[Any],
    ann_history: Sequence[Any],
    ann_accuracy: float,
    sweep: dict[str, dict[int, float]],
    layers: dict[str, list[Any]],
    timesteps: int,
) -> list[str]:
    """Write raster.png, membrane.png, accuracy_vs_timesteps.png, training_curves.png, firing_rates.png."""
    rec = record_sample(snn, sample)
    files = [
        _save(_raster(rec, label), out, "raster.png"),
        _save(_membrane(rec, label, timesteps), out, "membrane.png"),
        _save(_accuracy_vs_timesteps(sweep, ann_accuracy, timesteps), out, "accuracy_vs_timesteps.png"),
        _save(_training_curves(snn_history, ann_history), out, "training_curves.png"),
    ]
    if layers:
        files.append(_save(_firing_rates(layers), out, "firing_rates.png"))
    return files
