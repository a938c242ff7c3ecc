"""``ChipFactory``: per-device config builders and event conversions, as sinabs's
``sinabs.backend.dynapcnn.chip_factory``.

Without samna the event conversions return spikekit's own events (:class:`spikekit_speck.events.Spike`, with
samna's fields ``layer``, ``feature``, ``x``, ``y``, ``timestamp``, all ``int``); with samna installed they return
samna's ``event.Spike`` objects of the device family, as sinabs does. The config builder's pure parts (the core
constraints, monitoring and state resets on a configuration object) work without samna; the parts that build or
check samna objects need samna.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from spikekit_speck.chip import SPECK
from spikekit_speck.dynapcnn._samna import optional_samna, require_samna
from spikekit_speck.dynapcnn.io import parse_device_id
from spikekit_speck.events import Spike
from spikekit_speck.events import events_to_raster as _bin_events

__all__ = ["ChipFactory", "ConfigBuilder", "Speck2EConfigBuilder", "Speck2FConfigBuilder", "EventConversionError"]


class EventConversionError(ValueError, AssertionError):
    """Bad input to an event conversion. Also an ``AssertionError``: sinabs checks these inputs with ``assert``."""


class ConfigBuilder:
    """Device-specific configuration helpers (sinabs's ``ConfigBuilder``, for the Speck family).

    Offline (no samna): :meth:`get_constraints`, :meth:`monitor_layers`, :meth:`reset_states` (the last two act on
    any configuration object with samna's fields) and :meth:`map_layers_to_cores`. The rest builds or checks samna
    objects and needs samna; spikekit's JSON configuration (``make_config`` without samna) holds the same content.
    """

    samna_family: str = ""

    @classmethod
    def get_samna_module(cls) -> Any:
        """samna's module of the device family (``samna.speck2e`` / ``samna.speck2f``)."""
        return require_samna(f"the samna module of {cls.__name__}", f"samna.{cls.samna_family}")

    @classmethod
    def get_default_config(cls) -> Any:
        """samna's default ``SpeckConfiguration`` of the family (needs samna)."""
        return cls._configuration_module().SpeckConfiguration()

    @classmethod
    def get_dvs_layer_config(cls) -> Any:
        """samna's DVS layer configuration class of the family (needs samna)."""
        return cls._configuration_module().SpeckConfiguration().DVSLayerConfig

    @classmethod
    def _configuration_module(cls) -> Any:
        return require_samna(
            f"a samna configuration object ({cls.__name__})", f"samna.{cls.samna_family}.configuration"
        )

    @classmethod
    def build_config(cls, layers: Any, layer2core_map: Any, destination_map: Any) -> Any:
        """samna's configuration of a network. Not built here: use ``DynapcnnNetwork.make_config`` (samna's object
        when samna is installed, spikekit's JSON configuration without)."""
        cls._configuration_module()
        raise NotImplementedError(
            f"{cls.__name__}.build_config is not provided by spikekit: call DynapcnnNetwork.make_config(...) "
            "(or SpeckDeployment.to_samna()) to get samna's configuration object"
        )

    @classmethod
    def get_constraints(cls) -> list[Any]:
        """Kernel, neuron and bias memory of the 9 cores, in core order (sinabs's ``LayerConstraints``)."""
        try:
            from spikekit_speck.dynapcnn.mapping import LayerConstraints
        except ImportError:  # the network side of the package is not there: the plain core limits
            return list(SPECK.cores)
        return [LayerConstraints(c.kernel_memory, c.neuron_memory, c.bias_memory) for c in SPECK.cores]

    @classmethod
    def map_layers_to_cores(cls, layers: dict[int, Any]) -> dict[int, int]:
        """``{layer index: core}`` for ``{layer index: DynapcnnLayer}`` (a maximum matching; no samna needed)."""
        from spikekit_speck.dynapcnn.mapping import get_valid_mapping

        return get_valid_mapping(layers, cls.get_constraints())

    @classmethod
    def monitor_layers(cls, config: Any, layers: list) -> Any:
        """Switch on monitoring of ``layers`` (core ids and/or ``"dvs"``) in ``config``, in place; returned."""
        import warnings

        rest = list(layers)
        if "dvs" in rest:
            config.dvs_layer.monitor_enable = True
            if config.dvs_layer.pooling.x != 1 or config.dvs_layer.pooling.y != 1:
                warnings.warn("the DVS layer pools and is monitored: its monitored events are taken before pooling")
            rest.remove("dvs")
        for core in rest:
            config.cnn_layers[core].monitor_enable = True
            if any(dest.pooling != 1 for dest in config.cnn_layers[core].destinations):
                warnings.warn(f"layer {core} pools and is monitored: its monitored events are taken before pooling")
        return config

    @classmethod
    def validate_configuration(cls, config: Any) -> bool:
        """samna's check of a configuration object (needs samna); prints samna's message when invalid."""
        ok, message = cls.get_samna_module().validate_configuration(config)
        if not ok:
            print(message)
        return ok

    @classmethod
    def get_input_buffer(cls) -> Any:
        """samna's source node for this family's input events (needs samna)."""
        samna = require_samna(f"the input buffer of {cls.__name__}")
        return getattr(samna, cls._input_node)()

    @classmethod
    def get_output_buffer(cls) -> Any:
        """samna's sink node for this family's output events (needs samna)."""
        samna = require_samna(f"the output buffer of {cls.__name__}")
        return getattr(samna, cls._output_node)()

    @classmethod
    def reset_states(cls, config: Any, randomize: bool = False) -> Any:
        """Set every core's initial neuron states to 0 (or random in ``[threshold_low, threshold_high)``)."""
        for core, lyr in enumerate(config.cnn_layers):
            shape = torch.tensor(lyr.neurons_initial_value).shape
            if randomize:
                state = torch.randint(lyr.threshold_low, lyr.threshold_high, shape)
            else:
                state = torch.zeros(shape, dtype=torch.int)
            config.cnn_layers[core].neurons_initial_value = state.tolist()
        return config

    @classmethod
    def set_all_v_mem_to_zeros(cls, samna_device: Any, layer_id: int) -> None:
        """Write 0 to every neuron state of core ``layer_id`` on a device (needs samna and a device)."""
        samna = require_samna(f"writing neuron states of core {layer_id} to a device")
        module = cls.get_samna_module()
        events = []
        for address in range(SPECK.cores[layer_id].neuron_memory):
            event = module.event.WriteNeuronValue()
            event.address, event.layer, event.neuron_state = address, layer_id, 0
            events.append(event)
        source = cls.get_input_buffer()
        graph = samna.graph.sequential([source, samna_device.get_model().get_sink_node()])
        graph.start()
        source.write(events)
        graph.stop()


class Speck2EConfigBuilder(ConfigBuilder):
    """Speck 2e (``speck2e``, ``speck2edevkit``)."""

    samna_family = "speck2e"
    _input_node = "BasicSourceNode_speck2e_event_speck2e_input_event"
    _output_node = "BasicSinkNode_speck2e_event_output_event"


class Speck2FConfigBuilder(ConfigBuilder):
    """Speck 2f (``speck2fmodule``, ``speck2fdevkit``)."""

    samna_family = "speck2f"
    _input_node = "BasicSourceNode_speck2f_event_input_event"
    _output_node = "BasicSinkNode_speck2f_event_output_event"


def _spike_class(builder: type[ConfigBuilder]) -> Any:
    """samna's ``event.Spike`` of the family when samna is installed, else spikekit's :class:`Spike`."""
    module = optional_samna(f"samna.{builder.samna_family}")
    return Spike if module is None else module.event.Spike


def _raster_rows(raster: torch.Tensor, truncate: bool) -> torch.Tensor:
    """``(N, 4)`` rows ``(t, c, y, x)``, one per event, in sinabs's order.

    With ``truncate`` one row per non-zero entry, in ``(t, c, y, x)`` order. Otherwise, within a time bin, entries
    with larger counts come first; the entries holding count ``v`` form a block (in ``(c, y, x)`` order) that is
    repeated ``v`` times.
    """
    if truncate:
        return raster.nonzero()
    values = torch.unique(raster[raster > 0]).flip(0)  # descending counts
    blocks = [(raster == v).nonzero().repeat(int(v), 1) for v in values]
    if not blocks:
        return raster.new_zeros((0, 4), dtype=torch.int64)
    rows = torch.cat(blocks)
    order = torch.sort(rows[:, 0], stable=True).indices
    return rows[order]


class ChipFactory:
    """Config builder and event conversions of one device (``"speck2fdevkit"``, ``"speck2edevkit:1"``, ...).

    Args:
        device_str: ``"device_type"`` or ``"device_type:index"``; the type is a key of :attr:`supported_devices`.

    Raises:
        ValueError: unknown device type (sinabs raises a plain ``Exception``; a ``ValueError`` is one).
    """

    supported_devices: dict[str, type[ConfigBuilder]] = {
        "speck2e": Speck2EConfigBuilder,
        "speck2edevkit": Speck2EConfigBuilder,
        "speck2fmodule": Speck2FConfigBuilder,
        "speck2fdevkit": Speck2FConfigBuilder,
    }

    device_name: str
    device_id: int

    def __init__(self, device_str: str) -> None:
        self.device_name, self.device_id = parse_device_id(device_str)
        if self.device_name not in self.supported_devices:
            raise ValueError(
                f"Builder not found for device type: {self.device_name!r} (from {device_str!r}); "
                f"supported: {', '.join(self.supported_devices)}"
            )

    def get_config_builder(self) -> ConfigBuilder:
        """The device family's :class:`ConfigBuilder` (an instance, as sinabs returns)."""
        return self.supported_devices[self.device_name]()

    def raster_to_events(
        self,
        raster: torch.Tensor,
        layer: int,
        dt: float = 1e-3,
        truncate: bool = False,
        delay_factor: float = 0,
    ) -> list:
        """Events for a ``(T, C, H, W)`` raster of spike counts, addressed to core ``layer``.

        A count ``n`` gives ``n`` events (one with ``truncate``); bin ``t`` gets the timestamp
        ``int(t * 1e6 * dt + delay_factor * 1e6)`` microseconds. The order is sinabs's (see :func:`_raster_rows`).
        Events are samna's ``event.Spike`` when samna is installed, else :class:`spikekit_speck.events.Spike`.

        Raises:
            EventConversionError: negative ``delay_factor`` (an ``AssertionError`` too, as sinabs).
            ValueError: a raster that is not 4-D or holds negative or non-integer counts (sinabs drops those
                silently).
        """
        if delay_factor < 0:
            raise EventConversionError(f"raster_to_events: delay_factor must be >= 0, got {delay_factor}")
        raster = torch.as_tensor(raster).detach()
        if raster.ndim != 4:
            raise ValueError(
                f"raster_to_events expects a raster of shape (Time, Channel, Height, Width), got shape "
                f"{tuple(raster.shape)}"
            )
        if not truncate and ((raster < 0).any() or (raster != torch.round(raster)).any()):
            raise ValueError("raster_to_events expects non-negative integer spike counts (or truncate=True)")
        spike_cls = _spike_class(type(self.get_config_builder()))
        events = []
        for t, c, y, x in _raster_rows(raster, truncate).tolist():
            ev = spike_cls()
            ev.layer = layer
            ev.x, ev.y, ev.feature = x, y, c
            ev.timestamp = int((t * 1e6 * dt) + (delay_factor * 1e6))
            events.append(ev)
        return events

    def xytp_to_events(self, xytp: np.ndarray, layer: int, reset_timestamps: bool, delay_factor: float = 0) -> list:
        """Events for a structured array with fields ``x``, ``y``, ``t`` (microseconds), ``p`` (the feature).

        Args:
            xytp: e.g. from aermanager or tonic.
            layer: destination core.
            reset_timestamps: shift timestamps so that the first one is 0.
            delay_factor: start time in seconds (>= 0).

        Raises:
            EventConversionError: negative ``delay_factor`` or timestamps (an ``AssertionError`` too, as sinabs).
            ValueError: ``xytp`` lacks one of the fields.
        """
        if delay_factor < 0:
            raise EventConversionError(f"xytp_to_events: delay_factor must be >= 0, got {delay_factor}")
        names = getattr(getattr(xytp, "dtype", None), "names", None) or ()
        missing = [f for f in ("x", "y", "t", "p") if f not in names]
        if missing:
            raise ValueError(
                f"xytp_to_events expects a structured array with fields x, y, t, p; fields {missing} are missing "
                f"(got {list(names)})"
            )
        if len(xytp) == 0:
            return []
        tstart = xytp["t"].min()
        if tstart < 0:
            raise EventConversionError(f"xytp_to_events: timestamps must be >= 0, the smallest is {tstart}")
        spike_cls = _spike_class(type(self.get_config_builder()))
        events = []
        for row in xytp:
            ev = spike_cls()
            ev.layer = layer
            ev.x, ev.y, ev.feature = int(row["x"]), int(row["y"]), int(row["p"])
            t = row["t"] - tstart if reset_timestamps else row["t"]
            ev.timestamp = int(t + (delay_factor * 1e6))
            events.append(ev)
        return events

    def events_to_raster(self, events: list, dt: float = 1e-3, shape: tuple | None = None) -> torch.Tensor:
        """A ``(Time, Channel, Height, Width)`` float raster of event counts; the first event is time 0.

        Args:
            events: objects with ``feature``, ``x``, ``y``, ``timestamp`` (microseconds): samna's or spikekit's.
            dt: bin length in seconds.
            shape: ``(Channel, Height, Width)``; inferred from the largest indices when None.

        Raises:
            ValueError: no events.
            IndexError: an event outside ``shape``.
        """
        events = list(events)
        if not events:
            raise ValueError("events_to_raster needs at least one event to find the start time")
        if shape is not None:
            bounds = tuple(int(s) for s in shape)
            for ev in events:
                if not (0 <= ev.feature < bounds[0] and 0 <= ev.y < bounds[1] and 0 <= ev.x < bounds[2]):
                    raise IndexError(
                        f"events_to_raster: event (feature={ev.feature}, y={ev.y}, x={ev.x}) is outside the shape "
                        f"{bounds} (Channel, Height, Width)"
                    )
        return _bin_events(events, dt=dt, shape=shape)
