"""What decides a demo run (:class:`DemoConfig`, checked when made) and what comes out of it (:class:`DemoResult`).

Both the pipeline and the report import this module; it imports nothing of theirs, nor torch.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for annotations: this module stays cheap to import (the command line's parser uses it)
    from spikekit_demo.training import EpochRecord

__all__ = ["DemoConfig", "DemoResult", "AUTO_BACKEND", "LIMITS"]

#: ``backend`` value that picks the fastest installed backend that can run the demo's network.
AUTO_BACKEND = "auto"

#: Upper bounds of the integer options (inclusive): beyond them a run only exhausts memory or time.
LIMITS = {"epochs": 1000, "timesteps": 1024, "threads": 1024, "batch_size": 4096, "seed": 2**31 - 1}


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Everything that decides a demo run. Use :meth:`from_options` for the command line's defaults.

    Attributes:
        epochs: training epochs, for the SNN and for the ANN.
        timesteps: T, time steps per sample (training and evaluation of both SNNs).
        backend: compute backend for the neuron layers (a registered name), or ``"auto"``: the fastest installed
            backend that runs the network, measured on a few training steps before training.
        out: output folder.
        seed: seeds the split, the encoding, the initial weights and the batch order (0 .. 2**31 - 1).
        quick: the short run (used only for labels).
        plots: write the PNG plots.
        overwrite: replace output files left by an earlier run (otherwise the run refuses before training).
        chip: map the converted network to the chip target and run it on its integer simulator (needs a
            plugin that registers ``chip_target``, such as spikekit-speck).
        chip_target: the hardware target's registered name.
        batch_size: training batch size.
        lr_snn, lr_ann: Adam learning rates (cosine-annealed to zero over the epochs).
        sweep: time-step counts for the accuracy-against-time-steps curve.
        max_train: use only the first ``max_train`` training samples (tests); None for all.
        percentile: activation percentile that weight normalisation maps to the threshold.
        threads: torch CPU threads (``torch.set_num_threads``).
        speed_steps: training steps timed per backend to choose one and to report its speed-up.

    Raises:
        ValueError: naming the field, what it expects and what it got, for any value out of range.
    """

    epochs: int = 12
    timesteps: int = 16
    backend: str = AUTO_BACKEND
    out: str = "spikekit-demo-out"
    seed: int = 0
    quick: bool = False
    plots: bool = True
    overwrite: bool = False
    chip: bool = True
    chip_target: str = "speck2f"
    batch_size: int = 32
    lr_snn: float = 2e-3
    lr_ann: float = 2e-3
    sweep: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    max_train: int | None = None
    percentile: float = 99.9
    threads: int = 1
    speed_steps: int = 5

    def __post_init__(self) -> None:
        for name in ("epochs", "timesteps", "threads", "batch_size", "speed_steps"):
            _check_int(name, getattr(self, name), 1, LIMITS.get(name, 10**6))
        _check_int("seed", self.seed, 0, LIMITS["seed"])
        if self.max_train is not None:
            _check_int("max_train", self.max_train, 1, 10**7)
        for name in ("backend", "out", "chip_target"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"DemoConfig: {name} must be a non-empty string, got {value!r}")
        if "\0" in self.out:
            raise ValueError(f"DemoConfig: out must be a folder name without NUL characters, got {self.out!r}")
        for name in ("lr_snn", "lr_ann"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value < 10:
                raise ValueError(f"DemoConfig: {name} must be a learning rate in (0, 10), got {value!r}")
        if not isinstance(self.percentile, (int, float)) or not 0 < self.percentile <= 100:
            raise ValueError(f"DemoConfig: percentile must be in (0, 100], got {self.percentile!r}")
        if not self.sweep:
            raise ValueError("DemoConfig: sweep must name at least one time-step count, got ()")
        for steps in self.sweep:
            _check_int("sweep entry", steps, 1, LIMITS["timesteps"])

    @classmethod
    def from_options(
        cls,
        *,
        epochs: int | None = None,
        timesteps: int | None = None,
        quick: bool = False,
        **options: Any,
    ) -> DemoConfig:
        """The configuration for the command line's options; ``None`` means the default (or the quick default).

        ``options`` are the other fields (backend, out, seed, plots, overwrite, chip, threads)."""
        if quick:
            return cls(epochs=epochs or 3, timesteps=timesteps or 8, quick=True, sweep=(1, 2, 4, 8, 16), **options)
        return cls(epochs=epochs or 12, timesteps=timesteps or 16, **options)


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"DemoConfig: {name} must be an integer in [{low}, {high}], got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"DemoConfig: {name} must be in [{low}, {high}], got {value}")


@dataclasses.dataclass
class DemoResult:
    """The numbers of one run (``results.json`` holds the same).

    Attributes:
        backend: how the compute backend was chosen and how fast it trains
            (:meth:`spikekit_demo.speed.BackendChoice.as_dict`).
        chip: the chip step (:meth:`spikekit_demo.chip.ChipReport.as_dict`), or None when it was skipped.
        chip_skipped: why the chip step was skipped, or None.
    """

    config: dict[str, Any]
    n_train: int
    n_test: int
    threads: int
    versions: dict[str, str]
    backend: dict[str, Any]
    snn_history: list[EpochRecord]
    ann_history: list[EpochRecord]
    snn_accuracy: float
    ann_accuracy: float
    converted_accuracy: float | None
    sweep: dict[str, dict[int, float]]
    layers: dict[str, list[Any]]
    chip: dict[str, Any] | None
    chip_skipped: str | None
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
