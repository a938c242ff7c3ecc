"""The demo's text report: accuracies, time per epoch, per-layer firing rates and synaptic operations."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spikekit_demo.config import DemoConfig, DemoResult
from spikekit_demo.requirements import Missing

__all__ = ["format_report", "format_skipped", "table", "human"]


def human(value: float) -> str:
    """``1234567 -> '1.23M'``, ``12345 -> '12.3k'``, ``12.3 -> '12.3'``."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> str:
    """A plain-text table; ``align`` has one ``"l"`` or ``"r"`` per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        out = [str(c).ljust(w) if a == "l" else str(c).rjust(w) for c, w, a in zip(cells, widths, align)]
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _mean_epoch_seconds(history: Sequence[Any]) -> str:
    if not history:
        return "-"
    return f"{sum(r.seconds for r in history) / len(history):.2f} s"


def _accuracy_table(result: DemoResult, T: int) -> list[str]:
    rows = [
        [
            "SNN, trained by BPTT (surrogate gradient)",
            _pct(result.snn_accuracy),
            _mean_epoch_seconds(result.snn_history),
        ],
        ["ANN (same architecture, ReLU)", _pct(result.ann_accuracy), _mean_epoch_seconds(result.ann_history)],
        ["SNN, converted from the ANN", _pct(result.converted_accuracy), "-"],
    ]
    return [
        f"Accuracy on the {result.n_test} test digits (SNNs: T={T} time steps)",
        table(["model", "test accuracy", "time / epoch"], rows),
    ]


def _layer_table(result: DemoResult, T: int) -> list[str]:
    names = list(result.layers)
    first = result.layers[names[0]]
    header = ["layer", "type", "neurons"]
    for name in names:
        header += [f"rate {name}", f"synops {name}"]
    body = []
    totals = {name: 0.0 for name in names}
    for i, row in enumerate(first):
        if row.neurons is None and row.synops is None:
            continue
        cells = [row.name, row.kind, str(row.neurons) if row.neurons is not None else ""]
        for name in names:
            r = result.layers[name][i]
            cells.append(f"{r.firing_rate:.3f}" if r.firing_rate is not None else "")
            cells.append(human(r.synops) if r.synops is not None else "")
            if r.synops is not None:
                totals[name] += r.synops
        body.append(cells)
    total = ["total", "", ""]
    for name in names:
        total += ["", human(totals[name])]
    body.append(total)
    return [
        "",
        f"Per layer, on the test set (rate: spikes per neuron per time step; synops: synaptic operations per "
        f"sample over {T} steps)",
        table(header, body, align="llr" + "r" * (len(header) - 3)),
    ]


def _sweep_table(result: DemoResult) -> list[str]:
    sweep = {k: v for k, v in result.sweep.items() if v}
    if not sweep:
        return []
    steps = sorted({t for v in sweep.values() for t in v})
    rows = [[k, *(_pct(v.get(t)) for t in steps)] for k, v in sweep.items()]
    return ["", "Test accuracy against time steps T", table(["T", *map(str, steps)], rows)]


def _ki(words: int) -> str:
    return f"{words / 1024:.3g}Ki" if words >= 1024 else str(words)


def _words(used: Any, capacity: Any) -> str:
    """Memory in words (Ki = 1024 words), ``used / capacity`` where the capacity is known."""
    if used is None:
        return "-"
    return f"{_ki(used)} / {_ki(capacity)}" if capacity is not None else _ki(used)


def _chip_section(result: DemoResult, T: int) -> list[str]:
    if result.chip is None:
        return ["", f"Chip step skipped: {result.chip_skipped}"]
    chip = result.chip
    lines = [
        "",
        f"On the chip target {chip['target']!r} (the converted SNN with a spiking read-out, {chip['samples']} test "
        f"digits, T={T}; integer simulator)",
        table(
            ["model", "test accuracy"],
            [
                ["SNN, floating point (spiking read-out)", _pct(chip["float_accuracy"])],
                ["SNN, simulated on the chip (integers)", _pct(chip["chip_accuracy"])],
            ],
        ),
        f"Same prediction on {_pct(chip['agreement'])} of the digits; {len(chip['cores'])} cores used; "
        f"mapping and simulation {chip['seconds']:.1f} s",
    ]
    rows = [
        [
            str(c.get("core")),
            str(c.get("layer")),
            _words(c.get("kernel_used"), c.get("kernel_capacity")),
            _words(c.get("neuron_used"), c.get("neuron_capacity")),
            _words(c.get("bias_used"), c.get("bias_capacity")),
        ]
        for c in sorted(chip["cores"], key=lambda c: (c.get("layer") is None, c.get("layer")))
    ]
    lines.append(table(["core", "layer", "kernel memory", "neuron memory", "bias memory"], rows))
    return lines


def format_report(result: DemoResult, config: DemoConfig) -> str:
    """The whole report as text."""
    from spikekit_demo.speed import BackendChoice

    T = config.timesteps
    parts = _accuracy_table(result, T)
    if result.layers:
        parts += _layer_table(result, T)
    parts += _sweep_table(result)
    parts += _chip_section(result, T)
    total_epochs = sum(r.seconds for r in result.snn_history) + sum(r.seconds for r in result.ann_history)
    choice = BackendChoice(**{k: v for k, v in result.backend.items() if k != "speedup"})
    plural = "s" if result.threads != 1 else ""
    parts += [
        "",
        choice.summary(),
        f"Run: {result.threads} thread{plural}, seed {config.seed}; training {total_epochs:.1f} s, whole run "
        f"{result.seconds:.1f} s",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in result.versions.items()),
    ]
    if result.files:
        folder = Path(result.files[0]).parent
        parts.append(f"Wrote to {folder}/: " + " ".join(Path(f).name for f in result.files))
    return "\n".join(parts)


def format_skipped(missing: Sequence[Missing]) -> str:
    """Which optional parts were skipped, and what to install for them."""
    lines = ["Skipped (a plugin is missing):"]
    for m in missing:
        lines.append(f"  - {m.line()}")
    return "\n".join(lines)
