from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from spikekit.plugins import PluginHost, manager
from spikekit.testing import isolated_host


@pytest.fixture
def spikekit_host() -> Iterator[PluginHost]:
    """A fresh process-wide plugin host for one test (the core's tests run without spikekit-testing)."""
    with isolated_host() as h:
        yield h


@pytest.fixture
def register_plugin(spikekit_host: PluginHost) -> Callable[..., str]:
    """``register_plugin(obj, name=None, distribution=None)`` registers a plugin for this test only."""
    return spikekit_host.register


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Install a throw-away distribution with a ``spikekit`` entry point on ``sys.path``.

    ``fake_distribution(dist_name, module_source, entry_name=None)`` writes ``<module>.py`` and a ``.dist-info`` with
    METADATA and entry_points.txt, so ``importlib.metadata`` discovers it exactly as a pip-installed plugin.
    """
    monkeypatch.syspath_prepend(str(tmp_path))
    made: set[str] = set()
    real_entry_points = manager.md.entry_points

    def only_fake_entry_points(**kwargs):
        # Discovery still goes through importlib.metadata, but sees only this test's distributions, so plugins
        # installed in the environment (first-party or other) do not change what the test observes.
        return [ep for ep in real_entry_points(**kwargs) if ep.dist is not None and ep.dist.metadata["Name"] in made]

    monkeypatch.setattr(manager.md, "entry_points", only_fake_entry_points)

    def make(dist_name: str, module_source: str, entry_name: str | None = None, value: str | None = None) -> str:
        module = dist_name.replace("-", "_")
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(module_source))
        info = tmp_path / f"{module}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 1.2.3\n")
        (info / "entry_points.txt").write_text(f"[spikekit]\n{entry_name or module} = {value or module}\n")
        sys.modules.pop(module, None)
        made.add(dist_name)
        return module

    return make


class _Hello:
    """A plugin command: ``hello [--who NAME]`` prints a greeting."""

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("--who", default="world")

    @staticmethod
    def run(args):
        print(f"hello {args.who}")
        return 0


@pytest.fixture
def hello_command() -> type:
    """The class of a well-formed plugin command (``add_arguments`` and ``run``), for command-line tests."""
    return _Hello
