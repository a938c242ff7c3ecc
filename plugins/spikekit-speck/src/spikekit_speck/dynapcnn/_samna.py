"""Lazy access to SynSense's SDK ``samna``: imported only inside the functions that need it.

Nothing in ``spikekit_speck.dynapcnn`` imports samna at import time. A function that can only work through samna
(open a device, build samna's configuration objects, run specksim, show the visualizer) calls :func:`require_samna`,
which raises :class:`SamnaRequiredError` naming what needed it when samna is not installed.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

__all__ = ["SamnaRequiredError", "require_samna", "optional_samna", "io_module", "deploy"]

_OFFLINE = (
    "Without samna, spikekit offers DynapcnnNetwork.make_json_config(...) (the same arguments, spikekit's JSON "
    "configuration), spikekit_speck.ChipSimulator (runs that configuration with the chip's integer arithmetic) and an "
    "offline specksim; the 'Without samna' page of the spikekit-speck docs lists what works offline."
)


class SamnaRequiredError(ModuleNotFoundError):
    """``what`` can only be done by SynSense's SDK ``samna``, which is not installed.

    A ``ModuleNotFoundError`` (hence an ``ImportError``), as sinabs raises when samna is missing.
    """

    def __init__(self, what: str, module: str = "samna") -> None:
        super().__init__(
            f"{what} needs samna, SynSense's SDK (module {module!r} is not installed; install it as SynSense "
            "documents). " + _OFFLINE,
            name=module,
        )
        self.what = what


def require_samna(what: str, module: str = "samna") -> Any:
    """Import and return ``module`` (``samna`` or one of its submodules, or ``samnagui``), or raise
    :class:`SamnaRequiredError` saying that ``what`` needs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise SamnaRequiredError(what, module.split(".")[0]) from exc


def optional_samna(module: str = "samna") -> Any:
    """``module`` when samna is installed, else None."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def io_module() -> Any:
    """The device helpers module (``spikekit.backend.dynapcnn.io``), for timestamps and opening devices."""
    return importlib.import_module("spikekit.backend.dynapcnn.io")


def deploy(network: Any, device: str, config: Any, slow_clk_frequency: int | None, builder: Any) -> None:
    """Apply ``config`` to ``device`` and connect samna event graphs (``builder``'s buffers) to it, as sinabs's
    ``DynapcnnNetwork.to``."""
    samna = require_samna(f"DynapcnnNetwork.to({device!r})")

    network.samna_device = io_module().open_device(device)
    network.samna_device.get_model().apply_configuration(config)
    time.sleep(1)
    if slow_clk_frequency is not None:
        dk_io = network.samna_device.get_io_module()
        dk_io.set_slow_clk(True)
        dk_io.set_slow_clk_rate(slow_clk_frequency)
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
