"""Reliability suite: prints how many property-test examples ran per (property, layer, backend)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_helper(name: str, path: Path) -> ModuleType:
    """Import a helper file of this suite once, under ``name`` (the tests folder is not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# Helpers shared by the test files, in sys.modules under these names once this runs.
_HERE = Path(__file__).parent
load_helper("spikekit_reliability_layers", _HERE / "_layers.py")
load_helper("spikekit_reliability_bad_inputs", _HERE / "bad_inputs.py")
load_helper("spikekit_reliability_make_table", _HERE.parents[1] / "docs" / "reliability" / "make_table.py")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    layers = sys.modules.get("spikekit_reliability_layers")
    counts = getattr(layers, "PROPERTY_COUNTS", None)
    if not counts:
        return
    terminalreporter.section("property-test examples run (property, layer, backend)")
    for (prop, layer, backend), n in sorted(counts.items()):
        terminalreporter.write_line(f"{prop:22s} {layer:18s} {backend:10s} {n}")
    terminalreporter.write_line(f"total: {sum(counts.values())}")
