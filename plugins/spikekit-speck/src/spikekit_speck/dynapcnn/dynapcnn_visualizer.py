"""``DynapcnnVisualizer``: sinabs's wrapper around samna's GUI for a network running on a chip.

The object is built without samna (its arguments are checked and stored as sinabs stores them); everything that
shows something (:meth:`DynapcnnVisualizer.connect`, the ``add_*_plot`` methods, :meth:`create_visualizer_process`)
needs samna and a chip, and raises :class:`~spikekit_speck.dynapcnn._samna.SamnaRequiredError` without samna.
"""

from __future__ import annotations

import socket
import warnings
from collections.abc import Callable
from typing import Any

from spikekit_speck.dynapcnn._samna import require_samna
from spikekit_speck.dynapcnn.dynapcnn_network import DynapcnnNetwork
from spikekit_speck.dynapcnn.io import launch_visualizer

__all__ = ["DynapcnnNetwork", "DynapcnnVisualizer", "get_free_tcp_port"]


def get_free_tcp_port() -> int:
    """A TCP port that is free on this machine now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("0.0.0.0", 0))
        return sock.getsockname()[1]


# Plot places (top-left x, top-left y, bottom-right x, bottom-right y) in the order d, s, r, p; None: no such plot.
_Layout = list[tuple[float, float, float, float] | None]


class DynapcnnVisualizer:
    """samna's GUI for a :class:`DynapcnnNetwork` on a chip: DVS view, spike counts, readout, power (needs samna).

    Args (as sinabs):
        window_scale: window size ``(height, width)`` in 1/9 and 1/16 of the monitor.
        dvs_shape: sensor ``(height, width)``.
        add_readout_plot, add_spike_count_plot, add_power_monitor_plot: which plots to show.
        spike_collection_interval: spike count window in ms.
        readout_prediction_threshold: spikes needed for a prediction.
        readout_default_return_value: class predicted when none wins (default: the last class).
        readout_default_threshold_low, readout_default_threshold_high: thresholds of the majority readout.
        power_monitor_number_of_items: 3 or 5 power rails (anything else warns and uses 3).
        feature_names: output labels; readout_images: ``"<class>_<label>.png"`` paths (needed for the readout plot).
        feature_count: number of outputs when neither names nor images are given.
        readout_node: ``"JitMajorityReadout"`` or a callable returning a samna JIT filter.
        extra_arguments: per-plot extra arguments (keys ``spike_count``, ``readout``, ``power_measurement``).

    Raises:
        ValueError: ``add_readout_plot`` without ``readout_images``.
    """

    # Plot places (top-left x, top-left y, bottom-right x, bottom-right y) as fractions of the window, per plot
    # combination: "d" DVS, "s" spike count, "r" readout, "p" power; order of the slots: d, s, r, p.
    DEFAULT_LAYOUT_DS: _Layout = [(0, 0, 0.5, 1), (0.5, 0, 1, 1), None, None]
    DEFAULT_LAYOUT_DSP: _Layout = [(0, 0, 0.5, 0.66), (0.5, 0, 1, 0.66), None, (0, 0.66, 1, 1)]
    DEFAULT_LAYOUT_DRP: _Layout = [(0, 0, 0.5, 0.66), None, (0.5, 0, 1, 0.66), (0, 0.66, 1, 1)]
    DEFAULT_LAYOUT_DSR: _Layout = [(0, 0, 0.33, 1), (0.33, 0, 0.66, 1), (0.66, 0, 1, 1), None]
    DEFAULT_LAYOUT_DSRP: _Layout = [(0, 0, 0.33, 0.66), (0.33, 0, 0.66, 0.66), (0.66, 0, 1, 0.66), (0, 0.66, 1, 1)]
    LAYOUTS_DICT: dict[str, _Layout] = {
        "ds": DEFAULT_LAYOUT_DS,
        "dsp": DEFAULT_LAYOUT_DSP,
        "drp": DEFAULT_LAYOUT_DRP,
        "dsr": DEFAULT_LAYOUT_DSR,
        "dsrp": DEFAULT_LAYOUT_DSRP,
    }

    def __init__(
        self,
        window_scale: tuple[int, int] = (4, 8),
        dvs_shape: tuple[int, int] = (128, 128),
        add_readout_plot: bool = False,
        add_spike_count_plot: bool = True,
        add_power_monitor_plot: bool = False,
        spike_collection_interval: int = 500,
        readout_prediction_threshold: int = 10,
        readout_default_return_value: int | None = None,
        readout_default_threshold_low: int | None = 0,
        readout_default_threshold_high: int | None = 32000,
        power_monitor_number_of_items: int | None = 3,
        feature_names: list[str] | None = None,
        readout_images: list[str] | None = None,
        feature_count: int | None = None,
        readout_node: str | Callable = "JitMajorityReadout",
        extra_arguments: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        if add_readout_plot and readout_images is None:
            raise ValueError(
                "DynapcnnVisualizer: a readout plot needs readout_images, a list of image paths in the order of "
                "the model's outputs"
            )
        self.window_scale = window_scale
        self.feature_names = feature_names
        self.readout_images = readout_images
        self.feature_count = feature_count
        self.dvs_shape = dvs_shape
        self.gui_type = "d" + "s" * bool(add_spike_count_plot) + "r" * bool(add_readout_plot)
        self.gui_type += "p" * bool(add_power_monitor_plot)
        self.spike_collection_interval = spike_collection_interval
        self.readout_prediction_threshold = readout_prediction_threshold
        self.readout_default_return_value = readout_default_return_value
        self.readout_default_threshold_low = readout_default_threshold_low
        self.readout_default_threshold_high = readout_default_threshold_high
        self.readout_node = readout_node
        if power_monitor_number_of_items not in (3, 5):
            warnings.warn(
                f"DynapcnnVisualizer: power_monitor_number_of_items is 3 ('io', 'logic', 'memory') or 5 (plus "
                f"'vdd', 'vda'), got {power_monitor_number_of_items}; using 3",
                stacklevel=2,
            )
            power_monitor_number_of_items = 3
        self.power_monitor_number_of_items = power_monitor_number_of_items
        self.samna_visualizer_port = get_free_tcp_port()
        self.dvs_layer_id = 13  # the DVS layer's id on the chip
        self.extra_arguments = extra_arguments

    @staticmethod
    def parse_feature_names_from_image_names(readout_image_paths: list[str] | None) -> list[str] | None:
        """``".../3_cat.png"`` -> ``"cat"`` for each path (None for no paths)."""
        if not readout_image_paths:
            return None
        return [path.split("/")[-1].split("_")[-1].split(".")[0] for path in readout_image_paths]

    def update_feature_names(self) -> None:
        """Names from the readout images, else ``"0"``, ``"1"``, ... up to :attr:`feature_count`."""
        if self.readout_images:
            self.feature_names = self.parse_feature_names_from_image_names(self.readout_images)
        else:
            self.feature_names = [str(i) for i in range(self._feature_count())]

    def update_default_readout_return_value(self) -> None:
        """The last class is the default prediction."""
        self.readout_default_return_value = self._feature_count() - 1

    def _feature_count(self) -> int:
        if self.feature_count is None:
            raise ValueError("DynapcnnVisualizer: give feature_names, readout_images or feature_count")
        return self.feature_count

    def update_feature_count(self, dynapcnn_network: Any) -> None:
        """Number of outputs of the network's last layer, from its samna configuration (needs a chip)."""
        self._needs_samna("reading the feature count from a network on a chip")
        core = dynapcnn_network.layer2core_map[dynapcnn_network.exit_layer_ids[-1]]
        cnn_layer = dynapcnn_network.samna_config.cnn_layers[core]
        self.feature_count = cnn_layer.dimensions.output_shape.feature_count

    @staticmethod
    def _needs_samna(what: str) -> Any:
        return require_samna(f"DynapcnnVisualizer: {what}")

    def create_visualizer_process(self, visualizer_endpoint: str, disjoint_process: bool = False) -> Any:
        """Start samna's GUI on ``visualizer_endpoint`` (needs samnagui)."""
        return launch_visualizer(
            receiver_endpoint=visualizer_endpoint,
            width_proportion=1 / 16 * self.window_scale[1],
            height_proportion=1 / 9 * self.window_scale[0],
            disjoint_process=disjoint_process,
        )

    def add_dvs_plot(self, shape: tuple[int, int], layout: tuple[float, float, float, float]) -> Any:
        """samna's activity plot configuration for the DVS view; ``shape`` is ``(height, width)`` (needs samna)."""
        ui = self._ui("the DVS plot")
        return ui.ActivityPlotConfiguration(shape[1], shape[0], "Dvs Plot", layout)

    def add_readout_plot(self, layout: tuple[float, float, float, float]) -> Any:
        """samna's readout plot configuration showing :attr:`readout_images` (needs samna)."""
        ui = self._ui("the readout plot")
        return ui.ReadoutPlotConfiguration("Readout Plot", self.readout_images, layout)

    def add_spike_count_plot(self, layout: tuple[float, float, float, float]) -> Any:
        """samna's spike count plot configuration, one line per output (needs samna)."""
        ui = self._ui("the spike count plot")
        # title, lines, names, layout, window (s), y max, colour, line width, legend, max y ticks, y and x labels
        return ui.SpikeCountPlotConfiguration(
            "Spike Count Plot", self.feature_count, self.feature_names, layout,
            25, 2.5, "", 1.2, True, 10, "Spike Count", "Time (s)",
        )  # fmt: skip

    def add_power_monitor_plot(self, layout: tuple[float, float, float, float]) -> Any:
        """samna's power measurement plot configuration for 3 or 5 rails (needs samna)."""
        ui = self._ui("the power monitor plot")
        names = ["io", "ram", "logic", "vdd", "vda"][: self.power_monitor_number_of_items]
        return ui.PowerMeasurementPlotConfiguration(
            "Power Measurement Plot", self.power_monitor_number_of_items, names, layout,
            10, 2, "", 1.5, False, 1, "Power Measurement", "Time (s)", "Power (mW)",
        )  # fmt: skip

    def create_plots(self) -> list:
        """The plot configurations of :attr:`gui_type`, placed by :attr:`LAYOUTS_DICT` (needs samna)."""
        self._ui("the plots")
        if self.gui_type not in self.LAYOUTS_DICT:
            raise KeyError(f"no layout for the plot combination {self.gui_type!r}; known: {sorted(self.LAYOUTS_DICT)}")
        layout = self.LAYOUTS_DICT[self.gui_type]

        def place(slot: int) -> tuple[float, float, float, float]:
            found = layout[slot]
            if found is None:
                raise KeyError(f"the layout {self.gui_type!r} has no place for plot {'dsrp'[slot]!r}")
            return found

        extra = self.extra_arguments or {}
        plots = [self.add_dvs_plot(shape=self.dvs_shape, layout=place(0))]
        if "s" in self.gui_type:
            plots.append(self.add_spike_count_plot(layout=place(1), **extra.get("spike_count", {})))
        if "r" in self.gui_type:
            plots.append(self.add_readout_plot(layout=place(2), **extra.get("readout", {})))
        if "p" in self.gui_type:
            plots.append(self.add_power_monitor_plot(layout=place(3), **extra.get("power_measurement", {})))
        return plots

    def _ui(self, what: str) -> Any:
        return require_samna(f"DynapcnnVisualizer: {what}", "samna.ui")

    @staticmethod
    def add_output_prediction_layer_plot() -> None:
        """Not available in sinabs either (it waits for samna's support)."""
        raise NotImplementedError("the output prediction plot waits for samna's support (as in sinabs)")

    def connect(self, dynapcnn_network: Any, disjoint_process: bool = False) -> None:
        """Stream the network's DVS and output events to samna's GUI (needs samna and the network on a chip)."""
        self._needs_samna("connecting to a network on a chip")
        if not hasattr(dynapcnn_network, "samna_device"):
            raise ConnectionError("Model has to be ported to chip. Hint: call the `.to()` method on the model.")
        raise NotImplementedError("DynapcnnVisualizer.connect: driving samna's GUI is not implemented in spikekit")

    def _graph(self, what: str) -> Any:
        self._needs_samna(what)
        graph = getattr(self, "streamer_graph", None)
        if graph is None:
            raise RuntimeError(f"DynapcnnVisualizer.{what}: not connected; call connect(network) first")
        return graph

    def start(self) -> None:
        """Start streaming to the GUI (after :meth:`connect`; needs samna)."""
        self._graph("start").start()

    def stop(self) -> None:
        """Stop streaming to the GUI (needs samna)."""
        self._graph("stop").stop()
