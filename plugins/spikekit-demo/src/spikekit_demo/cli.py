"""The ``spikekit demo`` sub-command: argument parsing only; the work lives in :mod:`spikekit_demo.pipeline`.

This module is imported whenever ``spikekit`` builds its parser, so it imports nothing heavy at module level.
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options to its sub-parser."""
    parser.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="training epochs for the SNN and the ANN (default 12; 3 with --quick)",
    )
    parser.add_argument(
        "--timesteps", type=_positive_int, default=None, help="time steps per sample (default 16; 8 with --quick)"
    )
    parser.add_argument(
        "--backend",
        default="torch",
        help="compute backend for the neuron layers (see `spikekit info`; default: torch, the reference)",
    )
    parser.add_argument("--out", default="spikekit-demo-out", help="output folder (default: ./spikekit-demo-out)")
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed; the same seed gives the same numbers (default 0)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a short run (under a minute): fewer epochs and time steps"
    )
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        help="CPU threads for torch (default 1: the network is tiny, and more threads only add overhead)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")


def run(args: argparse.Namespace) -> int:
    """Run the demo with the parsed options; returns the exit status."""
    from spikekit_demo.pipeline import DemoConfig, main

    config = DemoConfig.from_options(
        epochs=args.epochs,
        timesteps=args.timesteps,
        backend=args.backend,
        out=args.out,
        seed=args.seed,
        quick=args.quick,
        plots=not args.no_plots,
        threads=args.threads,
    )
    return main(config)


class _DemoCommand:
    """The object the ``spikekit_commands`` record points at: ``add_arguments(parser)`` and ``run(args)``."""

    add_arguments = staticmethod(add_arguments)
    run = staticmethod(run)


COMMAND = _DemoCommand()
