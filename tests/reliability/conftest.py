"""Reliability suite: prints how many property-test examples ran per (property, layer, backend)."""

from __future__ import annotations

import sys


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    layers = sys.modules.get("spikekit_reliability_layers")
    counts = getattr(layers, "PROPERTY_COUNTS", None)
    if not counts:
        return
    terminalreporter.section("property-test examples run (property, layer, backend)")
    for (prop, layer, backend), n in sorted(counts.items()):
        terminalreporter.write_line(f"{prop:22s} {layer:18s} {backend:10s} {n}")
    terminalreporter.write_line(f"total: {sum(counts.values())}")
