"""Everything that needs samna (SynSense's SDK), imported only when called: nothing here runs without it."""

from __future__ import annotations

import importlib
import time
from types import ModuleType
from typing import Any

__all__ = ["require_samna", "io_module", "deploy"]


def require_samna(what: str) -> ModuleType:
    """The ``samna`` module, or ImportError saying that ``what`` needs it and what works without it."""
    try:
        return importlib.import_module("samna")
    except ImportError as exc:
        raise ImportError(
            f"{what} needs samna, SynSense's SDK, which is not installed (install it from SynSense's channels). "
            "Without samna, spikekit offers DynapcnnNetwork.make_json_config(...) (the same arguments, spikekit's "
            "JSON configuration) and spikekit_speck.ChipSimulator (runs that configuration with the chip's "
            "integer arithmetic)."
        ) from exc


def io_module() -> Any:
    """The device helpers module (``spikekit.backend.dynapcnn.io``), for timestamps and opening devices."""
    return importlib.import_module("spikekit.backend.dynapcnn.io")


def deploy(network: Any, device: str, config: Any, slow_clk_frequency: int | None) -> None:
    """Apply ``config`` to ``device`` and connect samna event graphs to it, as sinabs's ``DynapcnnNetwork.to``."""
    samna = require_samna(f"DynapcnnNetwork.to({device!r})")
    from spikekit_speck.dynapcnn.config_builder import builder_for

    network.samna_device = io_module().open_device(device)
    network.samna_device.get_model().apply_configuration(config)
    time.sleep(1)
    if slow_clk_frequency is not None:
        dk_io = network.samna_device.get_io_module()
        dk_io.set_slow_clk(True)
        dk_io.set_slow_clk_rate(slow_clk_frequency)
    builder = builder_for(device)
    network.samna_input_buffer = builder.get_input_buffer()
    network.samna_output_buffer = builder.get_output_buffer()
    network.device_input_graph = samna.graph.EventFilterGraph()
    network.device_input_graph.sequential(
        [network.samna_input_buffer, network.samna_device.get_model().get_sink_node()]
    )
    network.device_output_graph = samna.graph.EventFilterGraph()
    network.device_output_graph.sequential(
        [network.samna_device.get_model().get_source_node(), network.samna_output_buffer]
    )
    network.device_input_graph.start()
    network.device_output_graph.start()
    network.samna_config = config
