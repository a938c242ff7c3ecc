"""The ``spikekit demo`` sub-command: argument parsing only; the work lives in :mod:`spikekit_demo.pipeline`.

This module is imported whenever ``spikekit`` builds its parser, so it imports nothing heavy at module level.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["add_arguments", "run"]


def _int_in(low: int, high: int, what: str) -> Callable[[str], int]:
    """An argparse type: an integer in ``[low, high]``, with a message that says what is expected."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} ({low}..{high}), got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {what} ({low}..{high}), got {value}")
        return value

    return parse


def _name(what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not text.strip() or "\0" in text:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return text

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options to its sub-parser."""
    from spikekit_demo.config import LIMITS

    positive = lambda name: _int_in(1, LIMITS[name], "a positive integer")  # noqa: E731
    parser.add_argument(
        "--epochs", type=positive("epochs"), default=None,
        help="training epochs for the SNN and the ANN (default 12; 3 with --quick)",
    )  # fmt: skip
    parser.add_argument(
        "--timesteps", type=positive("timesteps"), default=None,
        help="time steps per sample (default 16; 8 with --quick)",
    )  # fmt: skip
    parser.add_argument(
        "--backend", type=_name("a backend name or 'auto'"), default="auto",
        help="compute backend for the neuron layers (see `spikekit info`); default: auto, the fastest installed one "
        "that runs the network, measured on a few training steps; the report gives its speed-up over the reference",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=_name("a folder name"), default="spikekit-demo-out",
        help="output folder (default: ./spikekit-demo-out); checked before training, never a symbolic link",
    )  # fmt: skip
    parser.add_argument(
        "--overwrite", action="store_true",
        help="replace files an earlier run left in the output folder (without it, the run stops before training)",
    )  # fmt: skip
    parser.add_argument(
        "--seed", type=_int_in(0, LIMITS["seed"], "a non-negative integer"), default=0,
        help="random seed; the same seed gives the same numbers on the same backend (default 0)",
    )  # fmt: skip
    parser.add_argument(
        "--quick", action="store_true", help="a short run (under a minute): fewer epochs and time steps"
    )
    parser.add_argument(
        "--threads", type=positive("threads"), default=1,
        help="CPU threads for torch (default 1: the network is tiny, and more threads only add overhead)",
    )  # fmt: skip
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument(
        "--no-chip", action="store_true",
        help="skip the chip step (mapping the converted network to speck2f and simulating it; needs spikekit-speck)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Run the demo with the parsed options; returns the exit status (2 for options the configuration refuses)."""
    import sys

    from spikekit_demo.config import DemoConfig
    from spikekit_demo.pipeline import main

    try:
        config = DemoConfig.from_options(
            epochs=args.epochs, timesteps=args.timesteps, backend=args.backend, out=args.out, seed=args.seed,
            quick=args.quick, plots=not args.no_plots, threads=args.threads, overwrite=args.overwrite,
            chip=not args.no_chip,
        )  # fmt: skip
    except ValueError as exc:
        print(f"spikekit demo: {exc}", file=sys.stderr)
        return 2
    return main(config)


class _DemoCommand:
    """The object the ``spikekit_commands`` record points at: ``add_arguments(parser)`` and ``run(args)``."""

    add_arguments = staticmethod(add_arguments)
    run = staticmethod(run)


COMMAND = _DemoCommand()
