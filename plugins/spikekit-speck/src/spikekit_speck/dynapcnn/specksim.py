"""``from_sequential`` and ``SpecksimNetwork``: sinabs's ``sinabs.backend.dynapcnn.specksim``.

With samna installed, :func:`from_sequential` builds samna's specksim filter graph as sinabs does (float weights,
event by event). Without samna it returns an :class:`OfflineSpecksimNetwork` with the same call shape
(``net(xytp) -> xytp``, monitors, ``reset_states``), run by spikekit-speck's chip-exact integer simulator. The
offline results differ from specksim's in three documented ways:

- the network is discretised as the chip runs it (8-bit weights, 16-bit states scaled together, like
  ``DynapcnnNetwork(discretize=True)``), where specksim keeps float weights and thresholds; for integer weights
  and thresholds that fit the chip the scale only multiplies both and the spikes are the same;
- events that share a timestamp are summed before the neurons fire (one simulator step per distinct timestamp),
  where specksim feeds them one by one; the two agree unless inputs of opposite sign meet in one neuron at one
  timestamp;
- the network must fit on the chip's 9 cores (specksim has no such limit).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

import spikekit.layers as sl
from spikekit_speck.chip import SPECK
from spikekit_speck.dynapcnn._samna import optional_samna, require_samna
from spikekit_speck.dynapcnn.dynapcnn_layer import DynapcnnLayer
from spikekit_speck.dynapcnn.dynapcnn_network import DynapcnnCompatibleNetwork, DynapcnnNetwork
from spikekit_speck.layers import linear_to_conv
from spikekit_speck.recognise import number_of, threshold_of
from spikekit_speck.simulator import ChipSimulator

__all__ = [
    "DynapcnnCompatibleNetwork",
    "DynapcnnLayer",
    "DynapcnnNetwork",
    "to_tuple",
    "convert_linear_to_convolutional",
    "convert_convolutional_layer",
    "convert_pooling_layer",
    "convert_iaf_layer",
    "calculate_weight_scale",
    "from_sequential",
    "SpecksimNetwork",
    "OfflineSpecksimNetwork",
]

OUTPUT_DTYPE = np.dtype([("x", np.uint32), ("y", np.uint32), ("t", np.uint32), ("p", np.uint32)])


def to_tuple(x: Any) -> Any:
    """``k`` -> ``(k, k)``; a tuple stays as it is."""
    return (x, x) if isinstance(x, int) else x


def convert_linear_to_convolutional(layer: nn.Linear, input_shape: Sequence[int]) -> nn.Conv2d:
    """The bias-free ``Conv2d`` whose kernel covers the whole ``(C, H, W)`` input and computes ``layer``.

    Raises:
        ValueError: ``layer.in_features`` is not ``C * H * W``.
    """
    return linear_to_conv(layer, input_shape, bias=False)


def calculate_weight_scale(layer: nn.AvgPool2d) -> float:
    """``kh * kw`` of an average pooling: it runs as sum pooling, so the next weights are divided by this."""
    kh, kw = to_tuple(layer.kernel_size)
    return float(kh * kw)


def _filter_module() -> Any:
    return require_samna("specksim (samna's event-based simulator)", "samna.specksim.nodes")


def convert_convolutional_layer(
    layer: nn.Conv2d, input_shape: Sequence[int], weight_scale: float = 1.0
) -> tuple[Any, list[int]]:
    """samna's specksim convolution filter for a bias-free ``Conv2d`` and its output shape (needs samna)."""
    if layer.bias is not None:
        raise ValueError(f"Biases are not supported by specksim: {layer} has a bias")
    conv_filter = _filter_module().SpecksimConvolutionalFilterNode()
    in_shape = (input_shape[1], input_shape[2])
    conv_filter.set_parameters(
        int(layer.in_channels),
        int(layer.out_channels),
        to_tuple(layer.kernel_size),
        in_shape,
        to_tuple(layer.stride),
        to_tuple(layer.padding),
    )
    weights = layer.weight.detach().cpu().clone() / weight_scale
    conv_filter.set_weights(weights.tolist())
    return conv_filter, [int(layer.out_channels), *conv_filter.get_layer().get_output_shape()]


def convert_pooling_layer(layer: nn.Module, input_shape: Sequence[int]) -> tuple[Any, list[int]]:
    """samna's specksim sum pooling filter and its output shape (needs samna)."""
    pool_filter = _filter_module().SpecksimSumPoolingFilterNode()
    pool_filter.set_parameters(to_tuple(layer.kernel_size), tuple(input_shape[1:]))
    return pool_filter, [input_shape[0], *pool_filter.get_layer().get_output_shape()]


def convert_iaf_layer(layer: nn.Module, input_shape: Sequence[int]) -> tuple[Any, Sequence[int]]:
    """samna's specksim integrate-and-fire filter for an ``IAF`` / ``IAFSqueeze`` (needs samna)."""
    iaf_filter = _filter_module().SpecksimIAFFilterNode()
    low = number_of(layer, "min_v_mem", required=True)
    if low is None:
        raise ValueError(
            f"specksim needs a lower bound of the membrane potential: {type(layer).__name__}.min_v_mem is None"
        )
    iaf_filter.set_parameters(input_shape[0], tuple(input_shape[1:]), float(threshold_of(layer)), float(low))
    return iaf_filter, input_shape


def _walk(network: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers specksim runs, in order; refuses ReLU and warns about (and skips) unknown layers.

    The layers of a ``DynapcnnNetwork`` are taken in their index order, each with the sum pooling it applies to its
    output (a DynapcnnLayer holds its pooling as a size, not as a module: sinabs's walk drops it, so that each
    later layer is fed an unpooled input; see the specksim section of the spikekit-speck docs).
    """
    from spikekit_speck.dynapcnn.dynapcnn_layer import DynapcnnLayer

    kept: list[tuple[str, nn.Module]] = []
    chip_layers = getattr(network, "dynapcnn_layers", None)
    if isinstance(chip_layers, dict) and all(isinstance(m, DynapcnnLayer) for m in chip_layers.values()):
        for index, layer in chip_layers.items():
            kept += _chip_layer_parts(f"dynapcnn_layers.{index}", layer)
        return kept
    for name, layer in network.named_modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear, sl.SumPool2d, nn.AvgPool2d, sl.IAF, sl.IAFSqueeze, nn.Flatten)):
            kept.append((name, layer))
        elif isinstance(layer, nn.ReLU):
            raise TypeError(
                f"ReLU layer with name: {name} found! Convert the model to a spiking model before specksim."
            )
        elif list(layer.children()):
            continue  # containers (Sequential, ...): their layers come next
        else:
            warnings.warn(
                f"Layer with name: {name} of type: {type(layer)} is ignored and will not be included; "
                "the network may not be simulated properly.",
                stacklevel=3,
            )
    return kept


def _chip_layer_parts(name: str, layer: Any) -> list[tuple[str, nn.Module]]:
    """conv, neuron and (when it pools) the sum pooling of one DynapcnnLayer that sends to one destination."""
    if len(layer.pool) != 1:
        raise ValueError(
            f"specksim runs a chain of layers, but DynapcnnLayer {name!r} sends its output to {len(layer.pool)} "
            "destinations"
        )
    (pool,) = layer.pool
    size = (pool, pool) if isinstance(pool, int) else tuple(int(p) for p in pool)
    parts: list[tuple[str, nn.Module]] = [(f"{name}.conv", layer.conv_layer), (f"{name}.spk", layer.spk_layer)]
    if size != (1, 1):
        parts.append((f"{name}.pool", sl.SumPool2d(size)))
    return parts


def _samna_graph(layers: list[tuple[str, nn.Module]], input_shape: Sequence[int]) -> SpecksimNetwork:
    samna = require_samna("specksim (samna's event-based simulator)")
    graph = samna.graph.EventFilterGraph()
    filters = [samna.BasicSourceNode_specksim_events_spike()]
    shape: Sequence[int] = list(input_shape)
    scale = 1.0
    for _, layer in layers:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            conv = convert_linear_to_convolutional(layer, shape) if isinstance(layer, nn.Linear) else layer
            node, shape = convert_convolutional_layer(conv, shape, scale)
            scale = 1.0
        elif isinstance(layer, (sl.SumPool2d, nn.AvgPool2d)):
            node, shape = convert_pooling_layer(layer, shape)
            if isinstance(layer, nn.AvgPool2d):
                scale = calculate_weight_scale(layer)
        elif isinstance(layer, (sl.IAF, sl.IAFSqueeze)):
            node, shape = convert_iaf_layer(layer, shape)
        else:  # Flatten
            continue
        filters.append(node)
    filters.append(samna.BasicSinkNode_specksim_events_spike())
    return SpecksimNetwork(graph, graph.sequential(filters))


def from_sequential(network: nn.Sequential, input_shape: tuple[int, int, int]) -> SpecksimNetwork:
    """A specksim network for a sequential spiking model (bias-free Conv2d / Linear, SumPool2d / AvgPool2d,
    IAF / IAFSqueeze, Flatten) with input ``(channel, y, x)``.

    With samna: samna's specksim graph (a :class:`SpecksimNetwork`). Without: an :class:`OfflineSpecksimNetwork`
    on spikekit's integer simulator (see the module notes for how its results differ).

    Raises:
        TypeError: a ReLU (convert the model to a spiking one first).
        ValueError: a weight layer with a bias.
    """
    layers = _walk(network)
    for name, layer in layers:
        if isinstance(layer, (nn.Conv2d, nn.Linear)) and layer.bias is not None:
            raise ValueError(f"Biases are not supported by specksim: layer {name!r} ({type(layer).__name__}) has one")
    c, h, w = input_shape
    if optional_samna() is not None:
        return _samna_graph(layers, (c, h, w))
    return OfflineSpecksimNetwork(layers, (c, h, w))


def _spikes_to_xytp(spikes: list, output_dtype: np.dtype) -> np.ndarray:
    return np.array([(s.x, s.y, s.timestamp, s.feature) for s in spikes], dtype=output_dtype)


class SpecksimNetwork:
    """samna's specksim graph with sinabs's interface: ``net(xytp)`` gives the output events (needs samna).

    Args:
        graph: samna's ``EventFilterGraph`` holding the filters.
        graph_members: the filters, source first and sink last.
        initial_sleep_duration: seconds between writing the input and the first read (the graph runs on a thread).
        subsequent_sleep_duration: seconds between later reads, until no new event arrives.
    """

    output_dtype = OUTPUT_DTYPE

    def __init__(
        self,
        graph: Any,
        graph_members: list,
        initial_sleep_duration: float = 1.0,
        subsequent_sleep_duration: float = 0.1,
    ) -> None:
        self.network = graph
        self.members = graph_members
        self.initial_sleep_duration = initial_sleep_duration
        self.subsequent_sleep_duration = subsequent_sleep_duration
        self.monitors: dict[int, dict[str, Any]] = {}

    def forward(self, xytp: np.ndarray) -> np.ndarray:
        """Output events (fields ``x``, ``y``, ``t``, ``p``) for input events with the same fields."""
        import time

        spikes = self.xytp_to_specksim_spikes(xytp)
        self.network.start()
        for monitor in self.monitors.values():
            monitor["sink"].get_events()  # drop what an earlier run left
            monitor["graph"].start()
        self.members[0].write(spikes)
        time.sleep(self.initial_sleep_duration)
        out = list(self.members[-1].get_events())
        while True:
            time.sleep(self.subsequent_sleep_duration)
            more = self.members[-1].get_events()
            if not more:
                break
            out.extend(more)
        for monitor in self.monitors.values():
            monitor["graph"].stop()
        self.network.stop()
        return self.specksim_spikes_to_xytp(out, self.output_dtype)

    def __call__(self, xytp: np.ndarray) -> np.ndarray:
        return self.forward(xytp)

    def _is_spiking(self, member: Any) -> bool:
        return isinstance(member, _filter_module().SpecksimIAFFilterNode)

    def reset_states(self) -> None:
        """Set every spiking layer's states to 0."""
        for member in self.members:
            if self._is_spiking(member):
                member.get_layer().reset_states()

    def get_nth_spiking_layer(self, spike_layer_number: int) -> Any:
        """The ``spike_layer_number``-th spiking layer (0-based)."""
        spiking = [m for m in self.members if self._is_spiking(m)]
        if not 0 <= spike_layer_number < len(spiking):
            raise ValueError(f"{spike_layer_number}th monitor does not exist! The network has {len(spiking)}.")
        return spiking[spike_layer_number]

    def add_monitor(self, spike_layer_number: int) -> None:
        """Record the output events of the ``spike_layer_number``-th spiking layer during :meth:`forward`."""
        samna = require_samna("a specksim monitor")
        layer = self.get_nth_spiking_layer(spike_layer_number)
        graph = samna.graph.EventFilterGraph()
        _, sink = graph.sequential([layer, samna.BasicSinkNode_specksim_events_spike()])
        self.monitors[spike_layer_number] = {"graph": graph, "sink": sink}

    def add_monitors(self, spike_layer_numbers: list[int]) -> None:
        for number in spike_layer_numbers:
            self.add_monitor(number)

    def read_monitor(self, spike_layer_number: int) -> np.ndarray:
        """The events recorded by a monitor (fields ``x``, ``y``, ``t``, ``p``)."""
        if spike_layer_number not in self.monitors:
            raise ValueError(f"Spike layer: {spike_layer_number} is not monitored (add_monitor first)")
        sink = self.monitors[spike_layer_number]["sink"]
        return self.specksim_spikes_to_xytp(sink.get_events_blocking(), self.output_dtype)

    def read_monitors(self, spike_layer_numbers: list[int]) -> dict[int, np.ndarray]:
        return {number: self.read_monitor(number) for number in spike_layer_numbers}

    def read_all_monitors(self) -> dict[int, np.ndarray]:
        return {number: self.read_monitor(number) for number in self.monitors}

    def read_spiking_layer_states(self, spike_layer_number: int) -> list:
        """Membrane potentials of a spiking layer as nested lists ``(channel, y, x)``."""
        return self.get_nth_spiking_layer(spike_layer_number).get_layer().get_v_mem()

    def clear_monitors(self) -> None:
        self.monitors = {}

    @staticmethod
    def xytp_to_specksim_spikes(xytp: np.ndarray) -> list:
        """samna's ``specksim.events.Spike(p, y, x, t)`` per row of ``xytp`` (needs samna)."""
        events = require_samna("specksim events", "samna.specksim.events")
        return [events.Spike(ev["p"], ev["y"], ev["x"], ev["t"]) for ev in xytp]

    @staticmethod
    def specksim_spikes_to_xytp(spikes: list, output_dtype: np.dtype) -> np.ndarray:
        """A record array (``output_dtype``: ``x``, ``y``, ``t``, ``p``) of spikes with ``x``, ``y``,
        ``timestamp``, ``feature``."""
        return _spikes_to_xytp(spikes, output_dtype)


def _as_squeeze(layer: nn.Module) -> nn.Module:
    """The chip's neuron form of an IAF (same threshold, floor, spike and reset functions)."""
    if isinstance(layer, sl.IAFSqueeze):
        return layer
    return sl.IAFSqueeze(
        batch_size=1,
        spike_threshold=layer.spike_threshold,
        min_v_mem=layer.min_v_mem,
        spike_fn=layer.spike_fn,
        reset_fn=layer.reset_fn,
    )


class OfflineSpecksimNetwork(SpecksimNetwork):
    """specksim's call shape without samna: the network discretised and run by spikekit's integer simulator.

    Each distinct input timestamp is one simulator step; output events carry the timestamp of their step. States
    are kept from one call to the next until :meth:`reset_states`. Monitors return the events of a spiking layer
    from the last call. See the module notes for how results differ from samna's specksim.

    Args:
        layers: ``(name, module)`` pairs as :func:`from_sequential` keeps them.
        input_shape: ``(channel, y, x)``.
    """

    def __init__(self, layers: list[tuple[str, nn.Module]], input_shape: tuple[int, int, int]) -> None:
        from spikekit_speck.target import compile_model

        model = nn.Sequential(*(_as_squeeze(m) if isinstance(m, sl.IAF) else m for _, m in layers))
        self.input_shape = tuple(int(n) for n in input_shape)
        self.deployment = compile_model(model, self.input_shape, SPECK, "speck2f")
        self.simulator = ChipSimulator(self.deployment.config, keep_state=True)
        self.monitors = {}
        self._last: tuple[np.ndarray, dict[int, torch.Tensor]] | None = None
        self.network, self.members = None, []
        self.initial_sleep_duration = self.subsequent_sleep_duration = 0.0

    def _raster(self, xytp: np.ndarray) -> tuple[np.ndarray, torch.Tensor]:
        names = getattr(getattr(xytp, "dtype", None), "names", None) or ()
        missing = [f for f in ("x", "y", "t", "p") if f not in names]
        if missing:
            raise ValueError(f"specksim input must be a record array with fields x, y, t, p; missing {missing}")
        times, step = np.unique(np.asarray(xytp["t"]), return_inverse=True)
        c, h, w = self.input_shape
        index = [torch.as_tensor(np.asarray(xytp[f]).astype(np.int64)) for f in ("p", "y", "x")]
        for values, size, field in zip(index, (c, h, w), ("p", "y", "x")):
            if len(values) and (int(values.min()) < 0 or int(values.max()) >= size):
                raise ValueError(
                    f"specksim input field {field!r} must lie in [0, {size}) for input shape {self.input_shape}, "
                    f"got values in [{int(values.min())}, {int(values.max())}]"
                )
        raster = torch.zeros(len(times), c, h, w, dtype=torch.int64)
        raster.index_put_(
            (torch.as_tensor(step.astype(np.int64)), *index), torch.ones(len(step), dtype=torch.int64), True
        )
        return times, raster

    @staticmethod
    def _events(counts: torch.Tensor, times: np.ndarray) -> np.ndarray:
        """``(T, C, H, W)`` counts -> records ``(x, y, t, p)``, one per spike, in ``(t, p, y, x)`` order."""
        nonzero = counts.nonzero()
        index = nonzero.repeat_interleave(counts[tuple(nonzero.T)], dim=0).numpy()  # one row per spike
        out = np.empty(len(index), dtype=OUTPUT_DTYPE)
        out["t"], out["p"], out["y"], out["x"] = times[index[:, 0]], index[:, 1], index[:, 2], index[:, 3]
        return out

    def forward(self, xytp: np.ndarray) -> np.ndarray:
        """Output events (fields ``x``, ``y``, ``t``, ``p``) for input events with the same fields."""
        times, raster = self._raster(xytp)
        if len(times) == 0:
            self._last = (times, {})
            return np.empty(0, dtype=OUTPUT_DTYPE)
        outputs = self.simulator.run(raster.unsqueeze(0))
        (out,) = [o for outs in outputs.values() for o in outs]
        self._last = (times, {i: s[0] for i, s in self.simulator.layer_spikes.items()})
        return self._events(out[0], times)

    def reset_states(self) -> None:
        self.simulator.reset_states()

    def get_nth_spiking_layer(self, spike_layer_number: int) -> dict[str, Any]:
        """The configuration of the ``spike_layer_number``-th spiking layer (0-based; spikekit's JSON form)."""
        layers = self.deployment.config["layers"]
        if not 0 <= spike_layer_number < len(layers):
            raise ValueError(f"{spike_layer_number}th monitor does not exist! The network has {len(layers)}.")
        return layers[spike_layer_number]

    def add_monitor(self, spike_layer_number: int) -> None:
        self.get_nth_spiking_layer(spike_layer_number)
        self.monitors[spike_layer_number] = {}

    def read_monitor(self, spike_layer_number: int) -> np.ndarray:
        """The output events of a monitored spiking layer during the last call (before any pooling)."""
        if spike_layer_number not in self.monitors:
            raise ValueError(f"Spike layer: {spike_layer_number} is not monitored (add_monitor first)")
        if self._last is None or spike_layer_number not in self._last[1]:
            return np.empty(0, dtype=OUTPUT_DTYPE)
        times, spikes = self._last
        return self._events(spikes[spike_layer_number], times)

    def read_spiking_layer_states(self, spike_layer_number: int) -> list:
        """States of a spiking layer as nested lists ``(channel, y, x)``, in the float model's units (the integer
        state divided by the layer's discretisation scale)."""
        layer = self.get_nth_spiking_layer(spike_layer_number)
        kept = self.simulator.states.get(spike_layer_number)
        state = torch.tensor(layer["neurons_initial_value"]).transpose(1, 2) if kept is None else kept[0]
        return (state.to(torch.float64) / layer["scale"]).tolist()
