"""The ``spikekit`` command line: ``spikekit plugins``, ``spikekit info``, and plugins' sub-commands.

Plugin commands follow the plugin system's fault policy. Their records are read to list them, but a command's
code is imported only when it runs (or when ``spikekit plugins`` checks them all). A command that fails to import,
does not have ``add_arguments`` and ``run``, or raises while running is reported on stderr naming its plugin and
distribution, with exit status 1; ``spikekit --help``, ``spikekit plugins`` and every other command keep working. A
plugin command named like a built-in command is reported as a clash and never replaces the built-in one.
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Sequence
from typing import Any

import numpy
import pluggy
import torch

import spikekit
from spikekit.compute import available_backends, unavailable_backends
from spikekit.plugins import host
from spikekit.targets import available_targets

__all__ = ["main", "build_parser", "BUILTIN_COMMANDS"]

#: Commands of the core; a plugin command with one of these names is reported as a clash.
BUILTIN_COMMANDS = ("plugins", "info")


def _cmd_plugins(args: argparse.Namespace) -> int:
    h = host()
    infos = h.plugins()
    # load every plugin command: the listing is the place to find broken ones
    broken = [n for n in sorted(h.commands()) if n not in BUILTIN_COMMANDS and _load_command(h, n) is None]
    if args.strict:
        h.check_all()  # import every exported reference: a dangling one is a failure here, not at first use
    if not infos:
        print("No spikekit plugins are registered.")
    for info in infos:
        version = f" {info.version}" if info.version else ""
        print(f"{info.name} ({info.distribution}{version})")
        for item in sorted(info.provides):
            print(f"    {item}")
    if h.blocked_plugins:
        print("\nBlocked:")
        for f in h.blocked_plugins:
            print(f"  {f.plugin} ({f.distribution}): {f.message}")
    if h.failures:
        print("\nSkipped:")
        for f in h.failures:
            at = f" (at {f.where})" if f.where else ""
            print(f"  {f.plugin} ({f.distribution}), {f.stage}: {f.message}{at}")
            if args.traceback and f.traceback:
                print("    " + f.traceback.rstrip().replace("\n", "\n    "))
    return 1 if (args.strict and (h.failures or broken)) else 0


def _cmd_info(args: argparse.Namespace) -> int:
    print(f"spikekit {spikekit.__version__}")
    print(f"python   {platform.python_version()} ({sys.executable})")
    for module in (torch, numpy, pluggy):
        print(f"{module.__name__:<8} {module.__version__}")
    cuda = torch.cuda.is_available()
    devices = ["cpu"] + (
        [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())] if cuda else []
    )
    print(f"devices  {', '.join(devices)}")
    print(f"threads  {torch.get_num_threads()}")
    print("backends:")
    for name, desc in sorted(available_backends().items()):
        print(f"    {name}: {desc}")
    for name, reason in sorted(unavailable_backends().items()):
        print(f"    {name}: unavailable ({reason})")
    print("targets:")
    for name, desc in sorted(available_targets().items()):
        print(f"    {name}: {desc}")
    return 0


def _load_command(h: Any, name: str) -> Any | None:
    """The command object registered as ``name``, or None after reporting why it cannot be used."""
    owned = h.owned("command")[name]
    try:
        command = h.load_command(name)
    except Exception as exc:
        h.report_failure(owned, "command", f"command {name!r} could not be loaded: {exc}")
        return None
    missing = [m for m in ("add_arguments", "run") if not callable(getattr(command, m, None))]
    if missing:
        h.report_failure(owned, "command", f"command {name!r} has no {' or '.join(missing)}")
        return None
    return command


def build_parser(load: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: built-in commands, and every plugin command listed with its description.

    Only the plugin command named ``load`` is imported and given its arguments; the others are listed only.
    """
    h = host()
    parser = argparse.ArgumentParser(prog="spikekit", description="spikekit: spiking neural networks in PyTorch")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("plugins", help="list installed plugins, what each provides, and failures")
    p.add_argument(
        "--strict", action="store_true", help="import every exported reference; exit with status 1 on any failure"
    )
    p.add_argument("--traceback", action="store_true", help="print the traceback of each failure")
    p.set_defaults(run=_cmd_plugins)
    p = sub.add_parser("info", help="versions, devices, backends and targets")
    p.set_defaults(run=_cmd_info)
    for name, spec in sorted(h.commands().items()):
        if name in BUILTIN_COMMANDS:
            owned = h.owned("command")[name]
            h.report_failure(owned, "clash", f"command {name!r} is a built-in spikekit command; keeping the built-in")
            continue
        p = sub.add_parser(name, help=spec.description, description=spec.description, add_help=name == load)
        if name == load:
            command = _load_command(h, name)
            p.set_defaults(run=_runner(h, name, command))
            if command is not None:
                command.add_arguments(p)
    return parser


def _runner(h: Any, name: str, command: Any | None) -> Any:
    """What ``spikekit <name>`` runs: the plugin's command (None: it could not be loaded), its failure reported on
    stderr naming the plugin and distribution, with exit status 1."""
    owned = h.owned("command")[name]
    who = f"spikekit: command {name!r} of plugin {owned.plugin!r} (distribution {owned.distribution!r})"

    def run(args: argparse.Namespace) -> int:
        if command is None:
            print(f"{who} is not available; see the warning above or run 'spikekit plugins'", file=sys.stderr)
            return 1
        try:
            return int(command.run(args) or 0)
        except Exception as exc:
            print(f"{who} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1

    return run


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # the sub-command: the top-level parser has no options with values, so the first word
    parser = build_parser(load=next((a for a in argv if not a.startswith("-")), None))
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    return int(args.run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
