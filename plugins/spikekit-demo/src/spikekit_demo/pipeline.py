"""The demo, step by step: data -> spike encoding -> BPTT training -> ANN training and conversion -> statistics ->
report, plots, model files. :func:`main` is what ``spikekit demo`` runs; :func:`run_demo` returns the numbers."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import random
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from spikekit_demo import report
from spikekit_demo.data import encode, load_digits
from spikekit_demo.model import INPUT_SHAPE, build_ann, build_snn, set_num_timesteps
from spikekit_demo.requirements import check, skipped_parts
from spikekit_demo.training import EpochRecord, evaluate_ann, evaluate_snn, snn_logits, train

__all__ = ["DemoConfig", "DemoResult", "run_demo", "main"]

#: Exit status when an essential plugin is missing.
EXIT_MISSING = 3


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Everything that decides a demo run. Use :meth:`from_options` for the command line's defaults.

    Attributes:
        epochs: training epochs, for the SNN and for the ANN.
        timesteps: T, time steps per sample (training and evaluation of both SNNs).
        backend: compute backend for the neuron layers (``spikekit.use_backend``).
        out: output folder.
        seed: seeds the split, the encoding, the initial weights and the batch order.
        quick: the short run (used only for labels).
        plots: write the PNG plots.
        batch_size: training batch size.
        lr_snn, lr_ann: Adam learning rates (cosine-annealed to zero over the epochs).
        sweep: time-step counts for the accuracy-against-time-steps curve.
        max_train: use only the first ``max_train`` training samples (tests); None for all.
        percentile: activation percentile that weight normalisation maps to the threshold.
        threads: torch CPU threads (``torch.set_num_threads``).
    """

    epochs: int = 12
    timesteps: int = 16
    backend: str = "torch"
    out: str = "spikekit-demo-out"
    seed: int = 0
    quick: bool = False
    plots: bool = True
    batch_size: int = 32
    lr_snn: float = 2e-3
    lr_ann: float = 2e-3
    sweep: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    max_train: int | None = None
    percentile: float = 99.9
    threads: int = 1

    @classmethod
    def from_options(
        cls,
        *,
        epochs: int | None = None,
        timesteps: int | None = None,
        backend: str = "torch",
        out: str = "spikekit-demo-out",
        seed: int = 0,
        quick: bool = False,
        plots: bool = True,
        threads: int = 1,
    ) -> DemoConfig:
        """The configuration for the command line's options; ``None`` means the default (or the quick default)."""
        if quick:
            return cls(
                epochs=epochs or 3,
                timesteps=timesteps or 8,
                backend=backend,
                out=out,
                seed=seed,
                quick=True,
                plots=plots,
                threads=threads,
                sweep=(1, 2, 4, 8, 16),
            )
        return cls(
            epochs=epochs or 12,
            timesteps=timesteps or 16,
            backend=backend,
            out=out,
            seed=seed,
            plots=plots,
            threads=threads,
        )


@dataclasses.dataclass
class DemoResult:
    """The numbers of one run (``results.json`` holds the same)."""

    config: dict[str, Any]
    n_train: int
    n_test: int
    threads: int
    versions: dict[str, str]
    snn_history: list[EpochRecord]
    ann_history: list[EpochRecord]
    snn_accuracy: float
    ann_accuracy: float
    converted_accuracy: float | None
    sweep: dict[str, dict[int, float]]
    layers: dict[str, list[Any]]
    files: list[str]
    skipped: list[str]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["sweep"] = {k: {str(t): a for t, a in v.items()} for k, v in self.sweep.items()}
        for rows in out["layers"].values():
            for row in rows:
                row.pop("rates", None)  # per-neuron lists: only for the histogram
        return out


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch, and ask torch for deterministic algorithms (cheap on the CPU)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for dist in (
        "spikekit",
        "spikekit-neurons",
        "spikekit-surrogates",
        "spikekit-convert",
        "spikekit-nir",
        "spikekit-kernels",
        "spikekit-demo",
        "torch",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


def _say(message: str = "") -> None:
    print(message, flush=True)


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def convert(ann: nn.Module, x_calibration: torch.Tensor, timesteps: int, percentile: float) -> nn.Module:
    """Normalise a copy of the ANN's weights on calibration images and convert it into a spiking net.

    Weight normalisation scales the weights of each convolution so that the ``percentile``-th percentile of its
    ReLU's activations maps to 1, the IAF threshold; then ``from_model`` swaps each ReLU for an ``IAFSqueeze``
    (subtractive reset, threshold 1, ``min_v_mem=-1``).
    """
    import spikekit
    from spikekit.utils import normalize_weights

    normalised = copy.deepcopy(ann).eval()
    normalize_weights(
        normalised, x_calibration, output_layers=["1", "4"], param_layers=["0", "3"], percentile=percentile
    )
    network = spikekit.from_model(
        normalised, input_shape=INPUT_SHAPE, num_timesteps=timesteps, add_spiking_output=False
    )
    return network.spiking_model


@contextlib.contextmanager
def _torch_settings(threads: int):
    """Set torch's thread count and deterministic mode for the block, and restore both afterwards."""
    saved = (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved[0])
        torch.use_deterministic_algorithms(saved[1], warn_only=saved[2])


def run_demo(config: DemoConfig, *, skip: set[str] | frozenset[str] = frozenset()) -> DemoResult:
    """Run the whole demo with ``config``; ``skip`` names optional parts whose plugins are missing.

    Torch's thread count and deterministic mode are restored afterwards; the global random generators stay seeded.
    """
    with _torch_settings(config.threads):
        return _run(config, skip)


def _run(config: DemoConfig, skip: set[str] | frozenset[str]) -> DemoResult:
    import spikekit
    import spikekit.encoders

    start = time.perf_counter()
    seed_everything(config.seed)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    T = config.timesteps
    data = load_digits(config.seed)
    x_train, y_train = data.x_train, data.y_train
    if config.max_train is not None:
        x_train, y_train = x_train[: config.max_train], y_train[: config.max_train]
    rate = spikekit.encoders.get("rate")
    s_train = encode(rate, x_train, T, config.seed + 1)  # (N, T, 1, 8, 8)
    s_test = encode(rate, data.x_test, T, config.seed + 2)
    threads = torch.get_num_threads()
    _say(
        f"spikekit demo: digits ({len(y_train)} train / {len(data.y_test)} test, 8x8), rate-encoded over T={T} "
        f"time steps; {config.epochs} epochs; backend {config.backend!r}; seed {config.seed}; {threads} thread{'s' if threads != 1 else ''}"
    )

    def backend() -> Any:  # a fresh context manager each time (a generator-based one is single-use)
        return spikekit.use_backend(config.backend, fallback="warn")

    # 1. the spiking CNN, trained by backpropagation through time with a surrogate gradient
    torch.manual_seed(config.seed)
    snn = build_snn(T)
    shuffle = torch.Generator().manual_seed(config.seed + 3)
    with backend():
        snn_history = train(
            snn,
            s_train,
            y_train,
            forward=snn_logits,
            test_accuracy=lambda: evaluate_snn(snn, s_test, data.y_test),
            epochs=config.epochs,
            batch_size=config.batch_size,
            lr=config.lr_snn,
            generator=shuffle,
            label="SNN (BPTT)",
        )

    # 2. the same architecture as an ANN, then converted
    torch.manual_seed(config.seed)
    ann = build_ann()
    shuffle = torch.Generator().manual_seed(config.seed + 3)
    ann_history = train(
        ann,
        x_train,
        y_train,
        forward=lambda model, x: model(x),
        test_accuracy=lambda: evaluate_ann(ann, data.x_test, data.y_test),
        epochs=config.epochs,
        batch_size=config.batch_size,
        lr=config.lr_ann,
        generator=shuffle,
        label="ANN       ",
    )
    ann_accuracy = evaluate_ann(ann, data.x_test, data.y_test)
    converted: nn.Module | None = None
    converted_accuracy = None
    with backend():
        snn_accuracy = evaluate_snn(snn, s_test, data.y_test)
        if "ANN conversion" not in skip:
            converted = convert(ann, x_train, T, config.percentile)
            converted_accuracy = evaluate_snn(converted, s_test, data.y_test)

        # 3. accuracy against the number of time steps (test set re-encoded for each T)
        sweep: dict[str, dict[int, float]] = {"SNN (BPTT)": {}, "SNN (converted)": {}}
        for steps in config.sweep:
            s_sweep = encode(rate, data.x_test, steps, config.seed + 2)
            for label, model in (("SNN (BPTT)", snn), ("SNN (converted)", converted)):
                if model is None:
                    continue
                set_num_timesteps(model, steps)
                sweep[label][steps] = evaluate_snn(model, s_sweep, data.y_test)
        for model in (snn, converted):
            if model is not None:
                set_num_timesteps(model, T)

        # 4. firing rates and synaptic operations per layer
        layers: dict[str, list[Any]] = {}
        if "statistics" not in skip:
            from spikekit_demo.stats import layer_statistics

            layers["SNN (BPTT)"] = layer_statistics(snn, s_test)
            if converted is not None:
                layers["SNN (converted)"] = layer_statistics(converted, s_test)

        # 5. files: plots, state_dicts, NIR
        files: list[str] = []
        if config.plots and "plots" not in skip:
            from spikekit_demo.figures import write_figures

            files += write_figures(
                out,
                snn=snn,
                converted=converted,
                sample=s_test[:1],
                label=int(data.y_test[0]),
                snn_history=snn_history,
                ann_history=ann_history,
                ann_accuracy=ann_accuracy,
                sweep=sweep,
                layers=layers,
                timesteps=T,
            )
    for name, model in (("snn_bptt", snn), ("snn_converted", converted)):
        if model is None:
            continue
        files.append(save_state_dict(model, out / f"{name}.pt", T))
        if "NIR export" not in skip:
            files.append(export_nir(model, out / f"{name}.nir", T))
    seconds = time.perf_counter() - start
    skipped = sorted(skip)
    result = DemoResult(
        config=dataclasses.asdict(config),
        n_train=len(y_train),
        n_test=len(data.y_test),
        threads=threads,
        versions=_versions(),
        snn_history=snn_history,
        ann_history=ann_history,
        snn_accuracy=snn_accuracy,
        ann_accuracy=ann_accuracy,
        converted_accuracy=converted_accuracy,
        sweep=sweep,
        layers=layers,
        files=files,
        skipped=skipped,
        seconds=seconds,
    )
    path = out / "results.json"
    path.write_text(json.dumps(result.to_json(), indent=1) + "\n")
    result.files.append(str(path))
    return result


@torch.no_grad()
def save_state_dict(model: nn.Module, path: Path, timesteps: int) -> str:
    """Save ``model``'s state_dict with its neuron states for one sample, zeroed (see ``model.load_snn``)."""
    from spikekit.utils import reset_states

    probe = copy.deepcopy(model)
    set_num_timesteps(probe, timesteps)
    probe(torch.zeros(timesteps, *INPUT_SHAPE))  # one sample
    reset_states(probe)
    torch.save(probe.state_dict(), path)
    return str(path)


@torch.no_grad()
def export_nir(model: nn.Module, path: Path, timesteps: int) -> str:
    """Export ``model`` to NIR (``spikekit.nir.to_nir``) and write it as an HDF5 ``.nir`` file."""
    import nir

    from spikekit.nir import to_nir

    probe = copy.deepcopy(model)
    set_num_timesteps(probe, timesteps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # NIR has no lower bound on the membrane; spikekit keeps min_v_mem in the node's metadata and restores it
        # on import, and a sinabs-convention reader sets min_v_mem = -threshold, the same -1 here.
        warnings.filterwarnings("ignore", message=".*has min_v_mem.*")
        graph = to_nir(probe, torch.zeros(timesteps, *INPUT_SHAPE), model_name="spikekit-demo")
    nir.write(str(path), graph)
    return str(path)


def main(config: DemoConfig) -> int:
    """Check the plugins, run the demo, print the report; the exit status (0 ok, 3 an essential plugin missing)."""
    essential, optional = check(config.backend)
    if essential:
        _note("spikekit demo cannot run: these pieces are missing\n")
        for m in essential:
            _note(f"  - {m.line()}")
        dists = sorted({m.piece.distribution for m in essential})
        _note(
            f"\nInstall {' and '.join(dists)} (pip install {' '.join(dists)}), or run `nox -s demo`, which installs "
            "the core and every first-party plugin."
        )
        return EXIT_MISSING
    skip = skipped_parts(optional)
    result = run_demo(config, skip=skip)
    _say()
    _say(report.format_report(result, config))
    if optional:
        _say()
        _say(report.format_skipped(optional))
    return 0
