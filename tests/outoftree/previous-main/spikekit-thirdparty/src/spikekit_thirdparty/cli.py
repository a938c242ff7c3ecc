"""``spikekit thirdparty-hello``."""

from __future__ import annotations

import argparse


class _Hello:
    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--name", default="spikekit")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        print(f"hello {args.name}, from spikekit-thirdparty")
        return 0


COMMAND = _Hello()
