"""The demo, step by step: output check -> data -> spike encoding -> backend choice -> BPTT training -> ANN
training and conversion -> statistics -> the chip step -> report, plots, model files. :func:`main` is what
``spikekit demo`` runs; :func:`run_demo` returns the numbers."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import random
import sys
import time
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from spikekit_demo import report
from spikekit_demo.config import AUTO_BACKEND, DemoConfig, DemoResult
from spikekit_demo.data import Digits, encode, load_digits
from spikekit_demo.model import INPUT_SHAPE, build_ann, build_snn, set_num_timesteps
from spikekit_demo.outputs import OutputError, OutputFolder, open_output
from spikekit_demo.requirements import check, skipped_parts
from spikekit_demo.speed import BackendChoice, BackendError, choose_backend
from spikekit_demo.training import EpochRecord, evaluate_ann, evaluate_snn, snn_logits, train

__all__ = ["DemoConfig", "DemoResult", "run_demo", "main", "output_names", "AUTO_BACKEND"]

#: Exit status when an essential plugin is missing.
EXIT_MISSING = 3
#: Exit status when the run is refused before training (output folder, backend).
EXIT_REFUSED = 2

PLOTS = ("raster.png", "membrane.png", "accuracy_vs_timesteps.png", "training_curves.png", "firing_rates.png")


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
        "spikekit-speck",
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


def output_names(config: DemoConfig, skip: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Every file a run with ``config`` may write into its output folder."""
    names = ["results.json", "snn_bptt.pt"]
    if "ANN conversion" not in skip:
        names.append("snn_converted.pt")
    if "NIR export" not in skip:
        names += ["snn_bptt.nir"] + (["snn_converted.nir"] if "ANN conversion" not in skip else [])
    if config.plots and "plots" not in skip:
        names += PLOTS
    if config.chip:
        names.append(f"chip_{config.chip_target}.json")
    return names


def run_demo(config: DemoConfig, *, skip: set[str] | frozenset[str] = frozenset()) -> DemoResult:
    """Run the whole demo with ``config``; ``skip`` names optional parts whose plugins are missing.

    The output folder is checked first (:func:`spikekit_demo.outputs.open_output`), before any training. Torch's
    thread count and deterministic mode are restored afterwards; the global random generators stay seeded.

    Raises:
        OutputError: the output folder cannot be used (or holds earlier outputs, without ``overwrite``).
        BackendError: the requested backend cannot train the network here.
    """
    out = open_output(config.out, output_names(config, skip), overwrite=config.overwrite)
    with _torch_settings(config.threads):
        return _run(config, skip, out)


@dataclasses.dataclass
class _Inputs:
    """The data of one run: digits, their spike trains ``(N, T, 1, 8, 8)``, the rate encoder."""

    data: Digits
    x_train: torch.Tensor
    y_train: torch.Tensor
    s_train: torch.Tensor
    s_test: torch.Tensor
    rate: Any


def _inputs(config: DemoConfig) -> _Inputs:
    import spikekit.encoders

    data = load_digits(config.seed)
    x_train, y_train = data.x_train, data.y_train
    if config.max_train is not None:
        x_train, y_train = x_train[: config.max_train], y_train[: config.max_train]
    rate = spikekit.encoders.get("rate")
    s_train = encode(rate, x_train, config.timesteps, config.seed + 1)  # (N, T, 1, 8, 8)
    s_test = encode(rate, data.x_test, config.timesteps, config.seed + 2)
    return _Inputs(data, x_train, y_train, s_train, s_test, rate)


def _choose_backend(config: DemoConfig, inputs: _Inputs) -> BackendChoice:
    """Time a few training steps of the demo's SNN on each candidate backend (see :mod:`spikekit_demo.speed`)."""
    with torch.random.fork_rng():
        model = build_snn(config.timesteps)
    n = min(config.batch_size, len(inputs.y_train))
    choice = choose_backend(config.backend, model, inputs.s_train[:n], inputs.y_train[:n], config.speed_steps)
    for name, why in choice.unusable.items():
        _note(f"spikekit demo: backend {name!r} cannot train this network here ({why})")
    return choice


def _backend(name: str) -> Any:
    import spikekit

    return spikekit.use_backend(name, fallback="warn")


def _train_snn(config: DemoConfig, inputs: _Inputs, backend: str) -> tuple[nn.Module, list[EpochRecord]]:
    """The spiking CNN, trained by backpropagation through time with a surrogate gradient."""
    torch.manual_seed(config.seed)
    snn = build_snn(config.timesteps)
    shuffle = torch.Generator().manual_seed(config.seed + 3)
    s_test, y_test = inputs.s_test, inputs.data.y_test
    with _backend(backend):
        history = train(
            snn, inputs.s_train, inputs.y_train, forward=snn_logits,
            test_accuracy=lambda: evaluate_snn(snn, s_test, y_test), epochs=config.epochs,
            batch_size=config.batch_size, lr=config.lr_snn, generator=shuffle, label="SNN (BPTT)",
        )  # fmt: skip
    return snn, history


def _train_ann(config: DemoConfig, inputs: _Inputs) -> tuple[nn.Module, list[EpochRecord]]:
    """The same architecture as an ANN (ReLU), trained with the same batches."""
    torch.manual_seed(config.seed)
    ann = build_ann()
    shuffle = torch.Generator().manual_seed(config.seed + 3)
    x_test, y_test = inputs.data.x_test, inputs.data.y_test
    history = train(
        ann, inputs.x_train, inputs.y_train, forward=lambda model, x: model(x),
        test_accuracy=lambda: evaluate_ann(ann, x_test, y_test), epochs=config.epochs,
        batch_size=config.batch_size, lr=config.lr_ann, generator=shuffle, label="ANN       ",
    )  # fmt: skip
    return ann, history


def _sweep(config: DemoConfig, inputs: _Inputs, models: dict[str, nn.Module | None]) -> dict[str, dict[int, float]]:
    """Accuracy against the number of time steps (the test set re-encoded for each T)."""
    sweep: dict[str, dict[int, float]] = {label: {} for label in models}
    for steps in config.sweep:
        s_sweep = encode(inputs.rate, inputs.data.x_test, steps, config.seed + 2)
        for label, model in models.items():
            if model is not None:
                set_num_timesteps(model, steps)
                sweep[label][steps] = evaluate_snn(model, s_sweep, inputs.data.y_test)
    for model in models.values():
        if model is not None:
            set_num_timesteps(model, config.timesteps)
    return sweep


def _statistics(inputs: _Inputs, models: dict[str, nn.Module | None]) -> dict[str, list[Any]]:
    """Firing rates and synaptic operations per layer, on the test set."""
    from spikekit_demo.stats import layer_statistics

    return {label: layer_statistics(model, inputs.s_test) for label, model in models.items() if model is not None}


def _chip(config: DemoConfig, inputs: _Inputs, converted: nn.Module | None) -> tuple[Any, str | None]:
    """The chip step (:mod:`spikekit_demo.chip`): ``(report, None)`` or ``(None, why it was skipped)``."""
    if not config.chip:
        return None, "turned off (--no-chip)"
    if converted is None:
        return None, "needs the converted network (ANN conversion was skipped)"
    from spikekit_demo.chip import run_chip_step, target_missing

    missing = target_missing(config.chip_target)
    if missing is not None:
        return None, missing
    _note(f"spikekit demo: mapping the converted network to {config.chip_target!r} and simulating it")
    chip_report = run_chip_step(
        converted, inputs.s_train[:256], inputs.s_test, inputs.data.y_test,
        timesteps=config.timesteps, target=config.chip_target,
    )  # fmt: skip
    return chip_report, None


def _model_files(out: OutputFolder, models: dict[str, nn.Module | None], T: int, skip: frozenset[str]) -> list[str]:
    """The state_dicts and NIR exports of the trained networks."""
    files = []
    for name, model in models.items():
        if model is None:
            continue
        files.append(save_state_dict(model, out, f"{name}.pt", T))
        if "NIR export" not in skip:
            files.append(export_nir(model, out, f"{name}.nir", T))
    return files


def _announce(config: DemoConfig, inputs: _Inputs, choice: BackendChoice) -> None:
    threads = torch.get_num_threads()
    _say(
        f"spikekit demo: digits ({len(inputs.y_train)} train / {len(inputs.data.y_test)} test, 8x8), rate-encoded "
        f"over T={config.timesteps} time steps; {config.epochs} epochs; backend {choice.name!r}; seed {config.seed}; "
        f"{threads} thread{'s' if threads != 1 else ''}"
    )


def _run(config: DemoConfig, skip: set[str] | frozenset[str], out: OutputFolder) -> DemoResult:
    start = time.perf_counter()
    skip = frozenset(skip)
    seed_everything(config.seed)
    inputs = _inputs(config)
    choice = _choose_backend(config, inputs)
    _announce(config, inputs, choice)
    snn, snn_history = _train_snn(config, inputs, choice.name)
    ann, ann_history = _train_ann(config, inputs)
    ann_accuracy = evaluate_ann(ann, inputs.data.x_test, inputs.data.y_test)
    converted: nn.Module | None = None
    converted_accuracy = None
    with _backend(choice.name):
        snn_accuracy = evaluate_snn(snn, inputs.s_test, inputs.data.y_test)
        if "ANN conversion" not in skip:
            converted = convert(ann, inputs.x_train, config.timesteps, config.percentile)
            converted_accuracy = evaluate_snn(converted, inputs.s_test, inputs.data.y_test)
        models = {"SNN (BPTT)": snn, "SNN (converted)": converted}
        sweep = _sweep(config, inputs, models)
        layers = _statistics(inputs, models) if "statistics" not in skip else {}
        files: list[str] = []
        if config.plots and "plots" not in skip:
            from spikekit_demo.figures import write_figures

            files += write_figures(
                out, snn=snn, converted=converted, sample=inputs.s_test[:1], label=int(inputs.data.y_test[0]),
                snn_history=snn_history, ann_history=ann_history, ann_accuracy=ann_accuracy, sweep=sweep,
                layers=layers, timesteps=config.timesteps,
            )  # fmt: skip
    chip_report, chip_skipped = _chip(config, inputs, converted)
    if chip_report is not None:
        files.append(out.write_text(f"chip_{chip_report.target}.json", chip_report.config_json))
    files += _model_files(out, {"snn_bptt": snn, "snn_converted": converted}, config.timesteps, skip)
    result = DemoResult(
        config=dataclasses.asdict(config), n_train=len(inputs.y_train), n_test=len(inputs.data.y_test),
        threads=torch.get_num_threads(), versions=_versions(), backend=choice.as_dict(), snn_history=snn_history,
        ann_history=ann_history, snn_accuracy=snn_accuracy, ann_accuracy=ann_accuracy,
        converted_accuracy=converted_accuracy, sweep=sweep, layers=layers,
        chip=None if chip_report is None else chip_report.as_dict(), chip_skipped=chip_skipped, files=files,
        skipped=sorted(skip), seconds=time.perf_counter() - start,
    )  # fmt: skip
    result.files.append(out.write_text("results.json", json.dumps(result.to_json(), indent=1) + "\n"))
    return result


@torch.no_grad()
def save_state_dict(model: nn.Module, out: OutputFolder, name: str, timesteps: int) -> str:
    """Save ``model``'s state_dict with its neuron states for one sample, zeroed (see ``model.load_snn``)."""
    from spikekit.utils import reset_states

    probe = copy.deepcopy(model)
    set_num_timesteps(probe, timesteps)
    probe(torch.zeros(timesteps, *INPUT_SHAPE))  # one sample
    reset_states(probe)
    state = probe.state_dict()
    return out.write(name, lambda path: torch.save(state, path))


@torch.no_grad()
def export_nir(model: nn.Module, out: OutputFolder, name: str, timesteps: int) -> str:
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
    return out.write(name, lambda path: nir.write(str(path), graph))


def _report_missing(essential: list[Any]) -> int:
    _note("spikekit demo cannot run: these pieces are missing\n")
    for m in essential:
        _note(f"  - {m.line()}")
    dists = sorted({m.piece.distribution for m in essential})
    _note(
        f"\nInstall {' and '.join(dists)} (pip install {' '.join(dists)}), or run `nox -s demo`, which installs "
        "the core and every first-party plugin."
    )
    return EXIT_MISSING


def main(config: DemoConfig) -> int:
    """Check the plugins, run the demo, print the report; the exit status (0 ok, 2 refused before training: the
    output folder or the backend, 3 an essential plugin missing)."""
    essential, optional = check(config.backend, config.chip_target if config.chip else None)
    if essential:
        return _report_missing(essential)
    skip = skipped_parts(optional)
    try:
        result = run_demo(config, skip=skip)
    except (OutputError, BackendError) as exc:
        _note(f"spikekit demo: {exc}")
        return EXIT_REFUSED
    _say()
    _say(report.format_report(result, config))
    if optional:
        _say()
        _say(report.format_skipped(optional))
    return 0
