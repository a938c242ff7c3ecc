"""Check, before any work starts, that every piece the demo uses is installed, and say which plugin is missing.

The demo uses only spikekit's public namespaces; each name below comes from one first-party plugin. A missing
*essential* piece (the neuron layers, the surrogate gradients, the rate encoder, the chosen backend) stops the demo
with a message naming the distribution to install; a missing *optional* piece (ANN conversion, statistics, NIR,
plots, the chip target) skips that part of the demo and says so in the report. Backends and targets are looked up
in the plugin registry, which also says which distribution provides them.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["Piece", "Missing", "check", "ESSENTIAL", "OPTIONAL"]


@dataclasses.dataclass(frozen=True)
class Piece:
    """One thing the demo needs: ``part`` of the demo, how to ``load`` it, and the ``distribution`` that provides it."""

    part: str
    what: str
    distribution: str
    load: Callable[[], Any]


@dataclasses.dataclass(frozen=True)
class Missing:
    """A piece that could not be loaded, with the error that said why."""

    piece: Piece
    reason: str

    def line(self) -> str:
        return f"{self.piece.what} ({self.piece.part}): install {self.piece.distribution} -- {self.reason}"


def _attr(module: str, name: str) -> Callable[[], Any]:
    def load() -> Any:
        return getattr(importlib.import_module(module), name)

    return load


def _encoder(name: str) -> Callable[[], Any]:
    def load() -> Any:
        import spikekit.encoders

        return spikekit.encoders.get(name)

    return load


def _backend(name: str) -> Callable[[], Any]:
    def load() -> Any:
        from spikekit.compute import get_backend

        return get_backend(name)

    return load


def _module(name: str) -> Callable[[], Any]:
    return lambda: importlib.import_module(name)


_NEURONS, _SURROGATES, _CONVERT, _NIR = "spikekit-neurons", "spikekit-surrogates", "spikekit-convert", "spikekit-nir"

ESSENTIAL: tuple[Piece, ...] = (
    Piece("spiking layers", "spikekit.layers.IAFSqueeze", _NEURONS, _attr("spikekit.layers", "IAFSqueeze")),
    Piece("spiking layers", "spikekit.layers.SumPool2d", _NEURONS, _attr("spikekit.layers", "SumPool2d")),
    Piece("spike generation", "spikekit.activation.MultiSpike", _NEURONS, _attr("spikekit.activation", "MultiSpike")),
    Piece("reset", "spikekit.activation.MembraneSubtract", _NEURONS, _attr("spikekit.activation", "MembraneSubtract")),
    Piece(
        "surrogate gradient",
        "spikekit.activation.SingleExponential",
        _SURROGATES,
        _attr("spikekit.activation", "SingleExponential"),
    ),
    Piece("spike encoding", "spike encoder 'rate'", _NEURONS, _encoder("rate")),
)

OPTIONAL: tuple[Piece, ...] = (
    Piece("ANN conversion", "spikekit.from_model", _CONVERT, _attr("spikekit", "from_model")),
    Piece("ANN conversion", "spikekit.utils.normalize_weights", _CONVERT, _attr("spikekit.utils", "normalize_weights")),
    Piece("statistics", "spikekit.synopcounter.SNNAnalyzer", _CONVERT, _attr("spikekit.synopcounter", "SNNAnalyzer")),
    Piece("NIR export", "spikekit.nir.to_nir", _NIR, _attr("spikekit.nir", "to_nir")),
    Piece("NIR export", "spikekit.nir.from_nir", _NIR, _attr("spikekit.nir", "from_nir")),
    Piece("NIR export", "the nir package", _NIR, _module("nir")),
    Piece("plots", "spikekit.plot.raster", "spikekit-plot", _attr("spikekit.plot", "raster")),
    Piece("plots", "matplotlib", "spikekit-plot", _module("matplotlib")),
)


def _provider(hook: str, name: str) -> str:
    """The distribution that registers backend / target ``name``, as the plugin registry records it."""
    from spikekit.plugins import host

    owned = host().owned(hook).get(name)
    return owned.distribution if owned is not None else "the plugin that provides it"


def _backend_piece(backend: str) -> Piece:
    return Piece("compute backend", f"backend {backend!r}", _provider("backend", backend), _backend(backend))


def _target_piece(target: str) -> Piece:
    def load() -> Any:
        from spikekit.plugins import host

        return host().load_target(target)

    dist = _provider("target", target)
    return Piece(
        "chip step", f"hardware target {target!r}", "spikekit-speck" if dist.startswith("the ") else dist, load
    )


def check(backend: str, chip_target: str | None = None) -> tuple[list[Missing], list[Missing]]:
    """Try to load every piece; return ``(essential_missing, optional_missing)``.

    ``backend`` is checked unless it is ``"auto"`` (then the reference backend must be there, as always);
    ``chip_target`` (None: no chip step) is optional."""
    from spikekit.compute import REFERENCE_BACKEND

    needed = [_backend_piece(REFERENCE_BACKEND)]
    if backend not in ("auto", REFERENCE_BACKEND):
        needed.append(_backend_piece(backend))
    optional_pieces = [*OPTIONAL, *([_target_piece(chip_target)] if chip_target else [])]
    essential: list[Missing] = []
    optional: list[Missing] = []
    for pieces, found in (((*ESSENTIAL, *needed), essential), (optional_pieces, optional)):
        for piece in pieces:
            try:
                piece.load()
            except Exception as exc:  # a missing plugin, a plugin that failed to load, a bad name: all reported
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                found.append(Missing(piece, message))
    return essential, optional


def skipped_parts(optional_missing: list[Missing]) -> set[str]:
    """The optional parts of the demo that cannot run."""
    return {m.piece.part for m in optional_missing}
