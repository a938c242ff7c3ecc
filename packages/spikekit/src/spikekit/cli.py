"""The ``spikekit`` command line: ``spikekit plugins``, ``spikekit info``, and plugins' sub-commands."""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _cmd_plugins(args: argparse.Namespace) -> int:
    from spikekit.plugins import host

    h = host()
    infos = h.plugins()
    if not infos:
        print("No spikekit plugins are registered.")
    for info in infos:
        version = f" {info.version}" if info.version else ""
        print(f"{info.name} ({info.distribution}{version})")
        for item in sorted(info.provides):
            print(f"    {item}")
    if h.failures:
        print("\nSkipped:")
        for f in h.failures:
            print(f"  {f.plugin} ({f.distribution}), {f.stage}: {f.message}")
    return 1 if (args.strict and h.failures) else 0


def _cmd_info(args: argparse.Namespace) -> int:
    import numpy
    import pluggy
    import torch

    import spikekit
    from spikekit.backends import available_backends
    from spikekit.targets import available_targets

    print(f"spikekit {spikekit.__version__}")
    print(f"python   {platform.python_version()} ({sys.executable})")
    print(f"torch    {torch.__version__}")
    print(f"numpy    {numpy.__version__}")
    print(f"pluggy   {pluggy.__version__}")
    cuda = torch.cuda.is_available()
    devices = ["cpu"] + (
        [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())] if cuda else []
    )
    print(f"devices  {', '.join(devices)}")
    print(f"threads  {torch.get_num_threads()}")
    print("backends:")
    for name, desc in sorted(available_backends().items()):
        print(f"    {name}: {desc}")
    print("targets:")
    for name, desc in sorted(available_targets().items()):
        print(f"    {name}: {desc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with the plugins' sub-commands added."""
    from spikekit.plugins import host

    parser = argparse.ArgumentParser(prog="spikekit", description="spikekit: spiking neural networks in PyTorch")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("plugins", help="list installed plugins, what each provides, and failures")
    p.add_argument("--strict", action="store_true", help="exit with status 1 if any plugin failed")
    p.set_defaults(run=_cmd_plugins)
    p = sub.add_parser("info", help="versions, devices, backends and targets")
    p.set_defaults(run=_cmd_info)
    for name, spec in sorted(host().commands().items()):
        if name in ("plugins", "info"):
            continue
        command = spec.load()
        p = sub.add_parser(name, help=spec.description, description=spec.description)
        command.add_arguments(p)
        p.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    return int(args.run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
