from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Install a throw-away distribution with a ``spikekit`` entry point on ``sys.path``.

    ``fake_distribution(dist_name, module_source, entry_name=None)`` writes ``<module>.py`` and a ``.dist-info`` with
    METADATA and entry_points.txt, so ``importlib.metadata`` discovers it exactly as a pip-installed plugin.
    """
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(dist_name: str, module_source: str, entry_name: str | None = None) -> str:
        module = dist_name.replace("-", "_")
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(module_source))
        info = tmp_path / f"{module}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 1.2.3\n")
        (info / "entry_points.txt").write_text(f"[spikekit]\n{entry_name or module} = {module}\n")
        sys.modules.pop(module, None)
        return module

    return make
