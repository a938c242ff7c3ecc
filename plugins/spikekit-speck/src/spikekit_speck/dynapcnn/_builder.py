"""The base class of the chips' configuration builders (sinabs's ``ConfigBuilder``, named by
``spikekit.backend.dynapcnn.config_builder``).

The placement part (constraints, ``map_layers_to_cores``) needs nothing; building samna's configuration objects
needs samna, which is imported only inside the methods that build them (an ImportError names samna otherwise).
"""

from __future__ import annotations

import abc
from typing import Any

from spikekit_speck.dynapcnn._samna import require_samna
from spikekit_speck.dynapcnn.mapping import LayerConstraints, get_valid_mapping

__all__ = ["ConfigBuilder"]


class ConfigBuilder(abc.ABC):
    """What a chip family's configuration builder offers (all class methods)."""

    @classmethod
    @abc.abstractmethod
    def get_samna_module(cls) -> Any:
        """samna's module for this chip (imports samna)."""

    @classmethod
    @abc.abstractmethod
    def get_default_config(cls) -> Any:
        """samna's default configuration object."""

    @classmethod
    @abc.abstractmethod
    def build_config(
        cls, layers: dict[Any, Any], layer2core_map: dict[int, int], destination_map: dict[Any, Any]
    ) -> Any:
        """samna's configuration of ``layers`` placed by ``layer2core_map``."""

    @classmethod
    @abc.abstractmethod
    def get_constraints(cls) -> list[LayerConstraints]:
        """The memories of the cores."""

    @classmethod
    @abc.abstractmethod
    def monitor_layers(cls, config: Any, layers: list[Any]) -> Any:
        """Enable the monitor of these cores (``"dvs"`` for the DVS layer)."""

    @classmethod
    def map_layers_to_cores(cls, layers: dict[Any, Any]) -> dict[int, int]:
        """``{layer index: core}`` found by maximum matching; ValueError "No valid mapping found..." otherwise."""
        return get_valid_mapping(layers, cls.get_constraints())

    @classmethod
    def validate_configuration(cls, config: Any) -> bool:
        """samna's verdict on ``config`` (its message is printed when invalid)."""
        is_valid, message = cls.get_samna_module().validate_configuration(config)
        if not is_valid:
            print(message)
        return is_valid

    @classmethod
    @abc.abstractmethod
    def get_input_buffer(cls) -> Any:
        """A samna source node for input events."""

    @classmethod
    @abc.abstractmethod
    def get_output_buffer(cls) -> Any:
        """A samna sink node for output events."""

    @classmethod
    @abc.abstractmethod
    def reset_states(cls, config: Any, randomize: bool = False) -> Any:
        """Set the neurons' initial states in ``config`` to zero (or random values)."""

    @classmethod
    def set_all_v_mem_to_zeros(cls, samna_device: Any, layer_id: int) -> None:
        """Write zero into every neuron state of core ``layer_id`` of an open device."""
        samna = require_samna("ConfigBuilder.set_all_v_mem_to_zeros")
        mod = cls.get_samna_module()
        events = []
        for address in range(cls.get_constraints()[layer_id].neuron_memory):
            event = mod.event.WriteNeuronValue()
            event.address, event.layer, event.neuron_state = address, layer_id, 0
            events.append(event)
        source = cls.get_input_buffer()
        graph = samna.graph.sequential([source, samna_device.get_model().get_sink_node()])
        graph.start()
        source.write(events)
        graph.stop()
